/* Bulk selection of a list page (issue 17): "select all on this page" ticks every row and
 * unticking a row unticks it. Without JavaScript the server reads "select all" itself (the
 * form posts every id of the page), so this is a convenience only. */
(function () {
  "use strict";
  function init() {
    var all = document.querySelector("[data-select-all]");
    if (!all) return;
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-select-row]"));
    all.addEventListener("change", function () {
      rows.forEach(function (box) {
        box.checked = all.checked;
      });
    });
    rows.forEach(function (box) {
      box.addEventListener("change", function () {
        all.checked = rows.every(function (b) {
          return b.checked;
        });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
