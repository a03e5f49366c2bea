// Unit portal: count the time left down each minute; ask before returning an order.
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
})();
