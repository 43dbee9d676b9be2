// The enterprise H5's small behaviours: upload progress (htmx's xhr progress events), clearing a
// file input once its file is uploaded, "select all" checkboxes, removing a row.
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
document.addEventListener("change", function (event) {
  var all = event.target.dataset && event.target.dataset.selectAll;
  if (all) {
    document.querySelectorAll('input[type=checkbox][name="' + all + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-remove]");
  if (button) button.closest(button.dataset.remove || "li").remove();
});
