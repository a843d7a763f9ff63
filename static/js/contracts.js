// Contract form: offer only the subtypes of the chosen contract type.
(function () {
  var typeSelect = document.getElementById("contract_type");
  var subSelect = document.getElementById("subtype");
  if (!typeSelect || !subSelect) { return; }
  var options = Array.prototype.slice.call(subSelect.options);
  var labels = {};
  options.forEach(function (o) { labels[o.value] = o.text; });
  function refresh() {
    var typeLabel = typeSelect.options[typeSelect.selectedIndex] ? typeSelect.options[typeSelect.selectedIndex].text : "";
    options.forEach(function (o) {
      var show = o.value === "" || (typeSelect.value && labels[o.value].indexOf(typeLabel + " - ") === 0);
      o.hidden = !show;
      o.disabled = !show;
      if (!show && o.selected) { subSelect.value = ""; }
    });
  }
  typeSelect.addEventListener("change", refresh);
  refresh();
})();
