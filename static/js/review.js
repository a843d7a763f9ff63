// The review queue: "全选本页" ticks every listing of the page; the batch button says how many are ticked.
(function () {
  var all = document.querySelector("[data-select-all]");
  var form = document.getElementById("batch-form");
  if (!all || !form) {
    return;
  }
  var boxes = form.querySelectorAll("input[name=ids]");
  var button = document.getElementById("batch-approve");
  function refresh() {
    var ticked = form.querySelectorAll("input[name=ids]:checked").length;
    button.disabled = ticked === 0;
    button.textContent = ticked ? "批量通过（" + ticked + "）" : "批量通过";
    all.checked = ticked === boxes.length;
  }
  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
    refresh();
  });
  boxes.forEach(function (b) { b.addEventListener("change", refresh); });
  refresh();
})();
