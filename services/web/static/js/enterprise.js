// The enterprise H5's small behaviours: upload progress (htmx's xhr progress events), clearing a
// file input once its file is uploaded, a subsidiary's row added from
// its <template> (no server call, so an expired login cannot put a page inside the form).
document.addEventListener("htmx:xhr:progress", function (event) {
  var bar = document.getElementById(event.target.dataset.progress || "");
  if (bar && event.detail.lengthComputable) {
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  }
});
document.addEventListener("htmx:afterRequest", function (event) {
  var input = event.target;
  if (input.matches && input.matches("input[type=file][data-progress]")) {
    input.value = "";
    var bar = document.getElementById(input.dataset.progress);
    if (bar) bar.hidden = true;
  }
});

function addSubject(index) {
  var template = document.getElementById("subject-template");
  var rows = document.getElementById("subjects");
  if (!template || !rows) return null;
  if (index === undefined) {
    index = 0;
    rows.querySelectorAll("fieldset.subject").forEach(function (row) {
      index = Math.max(index, Number(row.id.replace("subject-", "")) + 1);
    });
  }
  var holder = document.createElement("div");
  holder.innerHTML = template.innerHTML.replace(/__i__/g, String(index)).replace(/__n__/g, String(rows.children.length + 1));
  var row = holder.firstElementChild;
  rows.appendChild(row);
  if (window.htmx) htmx.process(row); // the region field's suggestions
  return row;
}
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-add-subject]")) {
    var row = addSubject();
    if (row) row.querySelector("input").focus();
  }
});
// A kept form put back (static/js/app.js): first the subsidiaries' rows its fields need.
document.addEventListener("xiaoer:restore", function (event) {
  event.detail.fields.forEach(function (pair) {
    var match = /^subjects\.(\d+)\./.exec(pair[0]);
    if (match && !document.getElementById("subject-" + match[1])) addSubject(Number(match[1]));
  });
});
document.querySelectorAll("[data-add-subject]").forEach(function (button) {
  button.disabled = false; // the row can be added from now on
});
