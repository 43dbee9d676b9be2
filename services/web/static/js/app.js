// What every page does in the browser, under a strict Content-Security-Policy (scripts only from
// files, no eval, no inline handlers): confirmations; forms that keep what was typed (a login that
// expired, Back, a live update lose nothing); live regions polled with ETags; small input helps.
(function () {
  "use strict";
  var PREFIX = "xiaoer:";
  var KEEP_HOURS = 24;
  var store = (function () {
    try {
      var s = window.sessionStorage;
      s.setItem(PREFIX + "probe", "1");
      s.removeItem(PREFIX + "probe");
      return s;
    } catch (e) {
      return null; // storage refused (a private mode): forms are simply not kept
    }
  })();

  function read(key) {
    if (!store) return null;
    try {
      var value = JSON.parse(store.getItem(key) || "null");
      if (value && value.at && Date.now() - value.at > KEEP_HOURS * 3600 * 1000) {
        store.removeItem(key);
        return null;
      }
      return value;
    } catch (e) {
      return null;
    }
  }
  function write(key, value) {
    if (!store) return;
    try {
      value.at = Date.now();
      store.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* full: keep nothing more */
    }
  }
  function forget(key) {
    if (store) store.removeItem(key);
  }

  // --- <form data-confirm="…">: asks before sending (htmx forms too: this runs first) -----------
  document.addEventListener(
    "submit",
    function (event) {
      var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
      if (message && !window.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // --- forms that keep what was typed: <form data-keep="name"> ----------------------------------
  // Saved in this tab's sessionStorage as one types, put back when the page opens again (after
  // signing in again, after Back, after a live update redrew the form) and forgotten once the
  // server confirmed the form was taken (a page with a success message after it was sent).
  function keyOf(form) {
    return PREFIX + "form:" + location.pathname + "#" + form.getAttribute("data-keep");
  }
  function snapshot(form) {
    var fields = [];
    var uploads = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrftoken" || el.disabled) return;
      var type = el.type;
      if (type === "file" || type === "password" || type === "submit" || type === "button") return;
      if (type === "hidden") {
        // An uploaded file in a list: its id (under the name the form sends it as) and its name.
        var list = el.closest("ul.uploads[id]");
        if (list && el.name.indexOf("attachment_name.") !== 0) {
          var label = form.querySelector('input[name="attachment_name.' + CSS.escape(el.value) + '"]');
          (uploads[list.id] = uploads[list.id] || []).push([el.value, label ? label.value : el.value, el.name]);
        }
        return;
      }
      if ((type === "checkbox" || type === "radio") && !el.checked) return;
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) {
          fields.push([el.name, o.value]);
        });
        return;
      }
      fields.push([el.name, el.value]);
    });
    return { fields: fields, uploads: uploads };
  }
  function save(form) {
    if (form && form.hasAttribute && form.hasAttribute("data-keep")) write(keyOf(form), snapshot(form));
  }
  function uploadedItem(id, name, field) {
    var item = document.createElement("li");
    item.className = "uploaded";
    [[field || "attachments", id], ["attachment_name." + id, name]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      item.appendChild(input);
    });
    var shown = document.createElement("span");
    shown.textContent = name;
    item.appendChild(shown);
    item.appendChild(document.createTextNode(" "));
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.setAttribute("data-remove", "li");
    button.textContent = document.documentElement.lang === "en" ? "Remove" : "移除";
    item.appendChild(button);
    return item;
  }
  function restore(form) {
    var kept = read(keyOf(form));
    if (!kept) return false;
    // Page scripts add what the fields need first (a subsidiary's row, say).
    form.dispatchEvent(new CustomEvent("xiaoer:restore", { detail: kept, bubbles: true }));
    var values = {};
    kept.fields.forEach(function (pair) {
      (values[pair[0]] = values[pair[0]] || []).push(pair[1]);
    });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrftoken") return;
      var type = el.type;
      if (type === "file" || type === "hidden" || type === "password" || type === "submit" || type === "button") return;
      var wanted = values[el.name] || [];
      if (type === "checkbox" || type === "radio") {
        el.checked = wanted.indexOf(el.value) !== -1;
      } else if (el.tagName === "SELECT") {
        Array.prototype.forEach.call(el.options, function (o) {
          o.selected = wanted.indexOf(o.value) !== -1;
        });
      } else if (el.name in values) {
        el.value = wanted[0];
      }
      var changed =
        type === "checkbox" || type === "radio"
          ? el.checked !== el.defaultChecked
          : el.tagName === "SELECT"
            ? Array.prototype.some.call(el.options, function (o) {
                return o.selected !== o.defaultSelected && (o.defaultSelected || el.multiple || o.index !== 0);
              })
            : el.value !== el.defaultValue;
      var details = changed && el.closest("details");
      if (details) details.open = true;
    });
    Object.keys(kept.uploads || {}).forEach(function (id) {
      var list = document.getElementById(id);
      if (!list) return;
      kept.uploads[id].forEach(function (kept) {
        if (!list.querySelector('input[value="' + CSS.escape(kept[0]) + '"]')) {
          if (list.hasAttribute("data-single")) list.textContent = ""; // one file only (a 授权委托书)
          list.appendChild(uploadedItem(kept[0], kept[1], kept[2]));
        }
      });
    });
    return true;
  }
  function restoreAll(root) {
    (root || document).querySelectorAll("form[data-keep]").forEach(restore);
  }
  function succeeded(root) {
    return !!(root || document).querySelector(".flash-success");
  }
  function settle(root) {
    // A form sent (and remembered as pending) that the server took: forget what it kept.
    var pending = read(PREFIX + "pending");
    if (pending && succeeded(root)) {
      forget(pending.key);
      forget(PREFIX + "pending");
    }
    restoreAll(root);
  }

  document.addEventListener("input", function (event) {
    save(event.target.form);
  });
  document.addEventListener("change", function (event) {
    save(event.target.form);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("action") === "/signout" && store) {
      Object.keys(store).forEach(function (key) {
        if (key.indexOf(PREFIX) === 0) store.removeItem(key);
      });
      return;
    }
    if (form.hasAttribute("data-keep")) {
      save(form);
      write(PREFIX + "pending", { key: keyOf(form) });
    }
  });
  // <button data-remove="li|fieldset|…">: removes what it sits in (an upload, a subsidiary).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove]");
    if (!button) return;
    var form = button.closest("form");
    button.closest(button.getAttribute("data-remove") || "li").remove();
    save(form);
  });

  // --- htmx ------------------------------------------------------------------------------------
  // A 401 comes with HX-Redirect: htmx takes the whole page to sign in (what was typed is kept
  // above). Without the header (a proxy's 401), go there anyway.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 401 && !xhr.getResponseHeader("HX-Redirect")) {
      location.href = "/?next=" + encodeURIComponent(location.pathname + location.search) + "&reason=expired";
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    save(event.target.closest && event.target.closest("form[data-keep]"));
  });

  // --- live regions: <div id="…" data-live hx-get hx-trigger="every Ns"> ------------------------
  // Asked again at the page's interval with the ETag of what is shown: unchanged is a 304 (no
  // swap). Not while the tab is hidden or someone is typing in the region; after a swap the kept
  // forms are put back, and the <details> that were open stay open.
  var composing = false;
  document.addEventListener("compositionstart", function () {
    composing = true;
  });
  document.addEventListener("compositionend", function () {
    composing = false;
  });
  function typingIn(region) {
    var active = document.activeElement;
    if (!active || !region.contains(active)) return false;
    return active.tagName === "TEXTAREA" || active.tagName === "SELECT" || (active.tagName === "INPUT" && !/^(checkbox|radio|button|submit)$/.test(active.type));
  }
  document.addEventListener("htmx:configRequest", function (event) {
    var region = event.detail.elt;
    if (!region.hasAttribute || !region.hasAttribute("data-live")) return; // only the region's own polls
    // Not while hidden, typing, or while a request of the region's own runs (an upload would land
    // in a list the redraw replaced).
    if (document.hidden || composing || typingIn(region) || region.querySelector(".htmx-request")) {
      event.preventDefault();
      return;
    }
    event.detail.path = location.pathname + location.search; // the page as it is now (tabs, search)
    if (region.dataset.etag) event.detail.headers["If-None-Match"] = region.dataset.etag;
  });
  // A request from inside a region (an upload, a form) stops the region's redraw already on its way:
  // drawn while the request runs, the region would replace the list or form its answer goes to,
  // and the answer would land in what is no longer on the page. The next poll draws it anew. On
  // beforeSend, when htmx has marked the request's element .htmx-request: a poll queued behind the
  // stopped one starts at once, and the check above must see that mark to hold it back.
  document.addEventListener("htmx:beforeSend", function (event) {
    var elt = event.detail.elt;
    var region = elt.parentElement && elt.parentElement.closest("[data-live]");
    if (region) htmx.trigger(region, "htmx:abort");
  });
  // Not while a finger or the mouse is pressed in the region either: a redraw between press and
  // release replaces the button, and the tap (a form being sent) is lost. The answer is dropped,
  // its ETag not kept, and the next poll draws the change. Let go after the click the release
  // makes (a touch's click comes a moment after it), or by a timer if none comes; and at once on
  // what ends a press without a release (a context menu, a drag, the window losing focus).
  var pressedIn = null;
  var letGo = null;
  function release(delay) {
    clearTimeout(letGo);
    letGo = setTimeout(function () {
      pressedIn = null;
    }, delay);
  }
  document.addEventListener(
    "pointerdown",
    function (event) {
      if (!event.isPrimary || event.button !== 0) return;
      clearTimeout(letGo);
      pressedIn = (event.target.closest && event.target.closest("[data-live]")) || null;
    },
    true
  );
  document.addEventListener("pointerup", function () {
    release(500);
  }, true);
  ["click", "pointercancel", "contextmenu", "dragstart"].forEach(function (type) {
    document.addEventListener(type, function () {
      release(0);
    }, true);
  });
  window.addEventListener("blur", function () {
    release(0);
  });
  document.addEventListener("visibilitychange", function () {
    release(0);
  });
  // The ETag of what the region shows now: from its own poll, or from a tab, a search or a page
  // of the queue drawn into it (those come from inside the region and target it).
  document.addEventListener("htmx:afterRequest", function (event) {
    var region = event.detail.target;
    var xhr = event.detail.xhr;
    if (!region || !region.hasAttribute || !region.hasAttribute("data-live")) return;
    if (xhr && xhr.status === 200 && !region._dropped) region.dataset.etag = xhr.getResponseHeader("ETag") || "";
    region._dropped = false;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var region = event.detail.target;
    if (!region.hasAttribute || !region.hasAttribute("data-live")) return;
    var config = event.detail.requestConfig;
    if (config && config.elt === region && region === pressedIn) {
      event.detail.shouldSwap = false; // the region's own poll only: a tab the person chose is drawn
      region._dropped = true;
      return;
    }
    region._open = Array.prototype.map.call(region.querySelectorAll("details[open][id]"), function (d) {
      return d.id;
    });
    region._focus = document.activeElement && region.contains(document.activeElement) ? document.activeElement.id : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var region = event.detail.target;
    if (region.hasAttribute && region.hasAttribute("data-live")) {
      (region._open || []).forEach(function (id) {
        var details = document.getElementById(id);
        if (details) details.open = true;
      });
      restoreAll(region);
      var focused = region._focus && document.getElementById(region._focus);
      if (focused) focused.focus();
    } else if (event.detail.elt && event.detail.elt.tagName === "FORM") {
      settle(); // an htmx form answered with a whole page (a clerk's move with a file)
    }
  });

  // --- small input helps --------------------------------------------------------------------------
  // <input type=checkbox data-select-all="name">: ticks or clears every box of that name in its form.
  document.addEventListener("change", function (event) {
    var el = event.target;
    var name = el.getAttribute && el.getAttribute("data-select-all");
    if (!name) return;
    var scope = el.form || document;
    scope.querySelectorAll('input[type=checkbox][name="' + CSS.escape(name) + '"]').forEach(function (box) {
      box.checked = el.checked;
    });
    save(el.form);
  });
  // <input data-uscc>: a pasted code loses its spaces and becomes upper case (the server does too).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-uscc")) {
      el.value = el.value.normalize("NFKC").replace(/\s+/g, "").toUpperCase();
      save(el.form);
    }
  });
  // A region picked from its list: the hint under the field names it.
  document.addEventListener("input", function (event) {
    var el = event.target;
    var list = el.list;
    var hint = el.getAttribute && document.getElementById("hint-" + el.name);
    if (!list || !hint) return;
    var chosen = Array.prototype.find.call(list.options, function (o) {
      return o.value === el.value;
    });
    if (chosen) hint.textContent = chosen.label || chosen.textContent;
  });

  // --- Alpine components (the CSP build runs only what is registered here, no expressions) -----
  document.addEventListener("alpine:init", function () {
    // A move looked at twice before it goes (转办): "ask" checks the form and shows what will be
    // sent; the panel's own button sends it, "cancel" goes back.
    window.Alpine.data("confirmMove", function () {
      return {
        asking: false,
        target: "",
        reason: "",
        get idle() {
          return !this.asking;
        },
        ask: function () {
          var form = this.$el.closest("form");
          if (!form.reportValidity()) return;
          var select = form.querySelector("select");
          var chosen = select && select.selectedOptions[0];
          this.target = chosen ? chosen.textContent : "";
          var text = form.querySelector("textarea");
          this.reason = text ? text.value : "";
          this.asking = true;
        },
        cancel: function () {
          this.asking = false;
        },
      };
    });
  });

  // After every deferred script (page scripts listen for xiaoer:restore), before Alpine starts.
  if (document.readyState === "complete") settle();
  else
    document.addEventListener("DOMContentLoaded", function () {
      settle();
    });
})();
