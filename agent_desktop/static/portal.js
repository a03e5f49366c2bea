// Unit portal: count the time left down each minute; ask before returning an order;
// in the inbox, filter (text, light, state) and sort by a column without the server.
"use strict";
(function () {
  function left(deadline) {
    var seconds = Math.round((deadline - Date.now()) / 1000);
    var sign = seconds < 0 ? "超时 " : "剩 ";
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) return sign + days + "天" + hours + "小时";
    if (hours) return sign + hours + "小时" + mins + "分";
    return sign + mins + "分";
  }
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (cell) {
      var deadline = Date.parse(cell.getAttribute("data-deadline"));
      if (!isNaN(deadline)) cell.textContent = left(deadline);
    });
  }
  setInterval(tick, 60000);
  document.querySelectorAll("form.return").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("确定退单？退单将计入本单位的退单次数。")) event.preventDefault();
    });
  });

  var table = document.getElementById("inbox");
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.querySelectorAll("tr[data-number]"));
  var text = document.getElementById("inbox-filter");
  var lightSel = document.getElementById("inbox-light");
  var stateSel = document.getElementById("inbox-state");
  var shown = document.getElementById("inbox-shown");
  var STATE_ORDER = { dispatched: 0, acknowledged: 1, replied: 2, returned: 3, withdrawn: 4 };

  function filter() {
    var q = text.value.trim().toLowerCase(), lamp = lightSel.value, state = stateSel.value;
    var n = 0;
    rows.forEach(function (row) {
      var ok = (!q || row.dataset.search.toLowerCase().indexOf(q) >= 0) &&
               (!lamp || row.dataset.light === lamp) && (!state || row.dataset.state === state);
      row.hidden = !ok;
      if (ok) n += 1;
    });
    shown.textContent = String(n);
  }
  function value(row, key) {
    if (key === "rank") return [Number(row.dataset.rank), row.dataset.due || "~"];
    if (key === "state") return [STATE_ORDER[row.dataset.state] || 9, row.dataset.due || "~"];
    if (key === "due") return [row.dataset.due || "~", ""];
    return [row.dataset.number, ""];
  }
  function compare(a, b) {
    for (var i = 0; i < a.length; i += 1) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  }
  var sortKey = "rank", ascending = true;
  function sortBy(key) {
    ascending = key === sortKey ? !ascending : true;
    sortKey = key;
    var keyed = rows.map(function (row) { return [value(row, key), row]; });
    keyed.sort(function (x, y) {
      var c = compare(x[0], y[0]) || compare([x[1].dataset.number], [y[1].dataset.number]);
      return ascending ? c : -c;
    });
    rows = keyed.map(function (pair) { return pair[1]; });
    var frag = document.createDocumentFragment();
    rows.forEach(function (row) { frag.appendChild(row); });
    body.appendChild(frag);
    table.querySelectorAll("th").forEach(function (th) {
      var button = th.querySelector("button.sort");
      if (button && button.dataset.sort === key) {
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
  }
  table.querySelectorAll("button.sort").forEach(function (button) {
    button.addEventListener("click", function () { sortBy(button.dataset.sort); });
  });
  text.addEventListener("input", filter);
  lightSel.addEventListener("change", filter);
  stateSel.addEventListener("change", filter);
  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (event.key === "/" && tag !== "INPUT" && tag !== "TEXTAREA" && tag !== "SELECT") {
      event.preventDefault();
      text.focus();
    }
  });
  filter();
})();
