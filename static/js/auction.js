/* The lot page's live state: polls the lot's state.json every 2 s (no library) and updates the price, leader,
   bid count, end time and the latest bids; reloads the page once the lot is decided. */
(function () {
  "use strict";
  var box = document.getElementById("lot-live");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-state-url");
  var version = box.getAttribute("data-version");
  var phase = box.getAttribute("data-phase");
  if (phase === "sold" || phase === "unsold") { return; }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el && text !== undefined && text !== null) { el.textContent = text; }
  }

  function localTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso; }
    var shanghai = new Date(d.getTime() + 8 * 3600 * 1000);  // Asia/Shanghai has no daylight saving
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return shanghai.getUTCFullYear() + "-" + two(shanghai.getUTCMonth() + 1) + "-" + two(shanghai.getUTCDate()) +
      " " + two(shanghai.getUTCHours()) + ":" + two(shanghai.getUTCMinutes()) + ":" + two(shanghai.getUTCSeconds());
  }

  function renderBids(bids) {
    var body = document.getElementById("bids-body");
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (!bids.length) {
      var empty = document.createElement("tr");
      var cell = document.createElement("td");
      cell.colSpan = 5; cell.className = "text-muted"; cell.textContent = "暂无出价";
      empty.appendChild(cell); body.appendChild(empty);
      return;
    }
    bids.forEach(function (b) {
      var tr = document.createElement("tr");
      [["序号", String(b.seq), "text-end"], ["竞买人", b.bidder, ""], ["出价", b.amount_label, "text-end"],
       ["方式", b.kind === "proxy" ? "代理出价" : "出价", ""], ["时间", localTime(b.at), ""]].forEach(function (c) {
        var td = document.createElement("td");
        td.setAttribute("data-label", c[0]);
        if (c[2]) { td.className = c[2]; }
        td.textContent = c[1];
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function apply(state) {
    if (state.phase !== phase && (state.phase === "sold" || state.phase === "unsold" ||
                                  state.phase === "running" || phase === "running")) {
      window.location.reload();
      return;
    }
    phase = state.phase;
    setText("lot-phase", state.phase_label);
    setText("bid-count", String(state.bid_count));
    setText("leader", state.leader || "—");
    setText("current-price", state.current_price_label);
    setText("ends-at", localTime(state.ends_at));
    var badge = document.getElementById("extended");
    if (badge) { badge.classList.toggle("d-none", !state.extended); }
    if (String(state.version) !== String(version)) {
      version = String(state.version);
      renderBids(state.bids);
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) { apply(state); } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
}());
