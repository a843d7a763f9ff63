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

// 技术交易额核算: 成交额 − 设备费 − 原材料费 − 其他非技术费用, in integer fen (no floating point); the server
// works out the same sum and refuses a 技术交易额 that disagrees with it.
(function () {
  var out = document.getElementById("worksheet-sum");
  var amount = document.getElementById("amount");
  var names = [["nontech_equipment", "设备"], ["nontech_materials", "原材料"], ["nontech_other", "其他非技术费用"]];
  if (!out || !amount) { return; }
  var initial = out.textContent;
  function fen(text) {
    var m = /^\s*(0|[1-9][0-9]{0,15})(?:\.([0-9]{1,2}))?\s*$/.exec(text || "");
    if (!m) { return null; }
    return BigInt(m[1]) * 100n + BigInt(((m[2] || "") + "00").slice(0, 2));
  }
  function yuan(value) {
    var negative = value < 0n;
    var v = negative ? -value : value;
    var cents = (v % 100n).toString();
    return (negative ? "-" : "") + (v / 100n).toString() + "." + (cents.length < 2 ? "0" + cents : cents);
  }
  function refresh() {
    var total = fen(amount.value);
    var given = names.filter(function (n) { var el = document.getElementById(n[0]); return el && el.value.trim() !== ""; });
    if (total === null || given.length === 0) { out.textContent = initial; return; }
    var parts = [yuan(total)];
    var rest = total;
    for (var i = 0; i < names.length; i++) {
      var el = document.getElementById(names[i][0]);
      var value = el && el.value.trim() !== "" ? fen(el.value) : 0n;
      if (value === null) { out.textContent = initial; return; }
      parts.push(names[i][1] + " " + yuan(value));
      rest -= value;
    }
    out.textContent = "技术交易额核算：" + parts.join(" − ") + " = " + yuan(rest) + " 元";
  }
  ["amount"].concat(names.map(function (n) { return n[0]; })).forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("input", refresh); }
  });
})();
