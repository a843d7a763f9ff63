// Confirmation before destructive actions: <form data-confirm="确定要……吗？">
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  if (event.defaultPrevented) {
    return;
  }
  // one submission per click: a double click must not post twice
  if (form.getAttribute("data-submitted")) {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-submitted", "1");
  // disable the buttons only after the browser has collected the form data: a button disabled
  // now would drop its own name=value (then=submit, decision=publish) from the submission
  window.setTimeout(function () {
    form.querySelectorAll("button:not([type]), button[type=submit], input[type=submit]").forEach(function (b) {
      b.disabled = true;
    });
  }, 0);
}, true);

// a page restored from the back-forward cache can be submitted again
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) {
    return;
  }
  document.querySelectorAll("form[data-submitted]").forEach(function (form) {
    form.removeAttribute("data-submitted");
    form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = false; });
  });
});

// Phones: list tables become cards below 576 px (static/css/app.css). Each cell gets its column's name as
// data-label, from the single header row; tables with a multi-row header (the dashboard's grids) or marked
// data-no-cards keep their layout and scroll.
(function () {
  document.querySelectorAll("table.table").forEach(function (table) {
    if (table.classList.contains("dash-table") || table.hasAttribute("data-no-cards")) { return; }
    var head = table.tHead;
    if (!head || head.rows.length !== 1) { return; }
    var labels = [];
    Array.prototype.forEach.call(head.rows[0].cells, function (th) {
      for (var i = 0; i < (th.colSpan || 1); i++) { labels.push(th.textContent.trim()); }
    });
    Array.prototype.forEach.call(table.querySelectorAll(":scope > tbody > tr, :scope > tfoot > tr"), function (tr) {
      var col = 0;
      Array.prototype.forEach.call(tr.cells, function (td) {
        if (!td.hasAttribute("data-label") && (td.colSpan || 1) === 1 && labels[col]) {
          td.setAttribute("data-label", labels[col]);
        }
        col += td.colSpan || 1;
      });
    });
    table.classList.add("table-cards");
  });
})();
