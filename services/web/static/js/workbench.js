// The clerk workbench's keyboard and reply templates (staff pages only: the phone pages never load
// this file). Under the strict Content-Security-Policy: no inline handlers, no eval.
//   j / k     select the next / previous item of the queue    Enter / o   open the selected item
//   a         签收 the selected item (queue) or this item      r           open 办结 on an item's page
//   ?         the help dialog (templates/clerk/_shortcuts.html; Esc closes it)
// Nothing fires while a person types in a field, holds Ctrl, Alt or ⌘, or composes with an IME.
(function () {
  "use strict";
  var selectedId = null; // the selected queue row's item id: kept across the queue's live redraws

  function typing(el) {
    if (!el || el === document.body) return false;
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue table.queue tbody tr[id^='row-']"));
  }
  function selectedRow() {
    return selectedId ? document.getElementById("row-" + selectedId) : null;
  }
  function linkOf(row) {
    return row && row.querySelector("td.ref a");
  }
  function mark(row) {
    rows().forEach(function (r) {
      r.classList.remove("selected");
      r.removeAttribute("aria-current");
    });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
  }
  function select(row) {
    selectedId = row.id.slice("row-".length);
    mark(row);
    var link = linkOf(row);
    if (link) link.focus(); // a screen reader reads the item's number; Enter opens it natively
    row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(selectedRow());
    var next = at === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }
  function open() {
    var link = linkOf(selectedRow());
    if (link) link.click();
  }
  // 签收 of the one selected row, through the queue's own 批量签收 form (its CSRF token and way back).
  function acknowledgeSelected() {
    var row = selectedRow();
    var box = row && row.querySelector("input[type=checkbox][name=item]");
    var queueForm = box && box.form;
    if (!queueForm) return; // not an item waiting for 签收
    var form = document.createElement("form");
    form.method = "post";
    form.action = queueForm.getAttribute("action");
    [["csrftoken", queueForm.elements.csrftoken.value], ["back", queueForm.elements.back.value], ["item", box.value]].forEach(
      function (pair) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = pair[0];
        input.value = pair[1];
        form.appendChild(input);
      }
    );
    document.body.appendChild(form);
    form.submit();
  }
  function acknowledge() {
    var here = document.getElementById("acknowledge-now"); // an item's page: its 签收 button (not 认领)
    if (here) here.requestSubmit();
    else acknowledgeSelected();
  }
  function openResolve() {
    var details = document.getElementById("move-resolve");
    if (!details) return;
    details.open = true;
    var first = details.querySelector("select, input:not([type=hidden]), textarea");
    if (first) first.focus();
    details.scrollIntoView({ block: "nearest" });
  }
  function help() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  var KEYS = { j: function () { move(1); }, k: function () { move(-1); }, o: open, a: acknowledge, r: openResolve, "?": help };
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || document.querySelector("dialog[open]")) return;
    var key = event.key;
    if (key === "Enter") {
      // Enter on a focused link or button does its own thing; with nothing focused it opens the selection.
      if (document.activeElement === document.body || document.activeElement === selectedRow()) open();
      return;
    }
    if (!KEYS.hasOwnProperty(key) || (event.shiftKey && key !== "?")) return;
    event.preventDefault();
    KEYS[key]();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) help();
  });

  // The queue redraws itself when it changes (static/js/app.js): the selection stays where it was.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "queue") return;
    var row = selectedRow();
    mark(row);
    if (row && (document.activeElement === document.body || !document.activeElement)) {
      var link = linkOf(row);
      if (link) link.focus();
    }
  });

  // <select data-fill="id">: a reply template chosen puts its text (filled for this item by the
  // router) into the field it is for; the kept form (app.js) learns of it like of typing.
  document.addEventListener("change", function (event) {
    var choice = event.target;
    var field = choice.getAttribute && document.getElementById(choice.getAttribute("data-fill") || "");
    if (!field || !choice.value) return;
    field.value = choice.value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  });
})();
