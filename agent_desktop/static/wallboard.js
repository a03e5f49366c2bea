// Supervisor wallboard: redraw from each pushed "system.wallboard" frame on the one
// WebSocket (/ws); count waits and times in state up every second. The server draws the
// first paint with the same ids (agent_desktop/wallboard_html.py).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const STATE_LABEL = { ready: "就绪", ringing: "振铃", talking: "通话中", wrap_up: "话后整理",
    paused: "示忙", unreachable: "离线", logged_out: "未签入" };
  const LIGHT_LABEL = { red: "超时", yellow: "临近" };
  let skew = 0; // server clock minus ours, from the figures' "now"

  function esc(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;", "'": "&#x27;" }[c]));
  }
  function percent(share) { return share === null || share === undefined ? "—" : (share * 100).toFixed(1) + "%"; }
  function elapsed(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }
  function since(iso) {
    if (!iso) return '<span class="since" data-since="">—</span>';
    const secs = (Date.now() + skew - Date.parse(iso)) / 1000;
    return `<span class="since" data-since="${esc(iso)}">${elapsed(secs)}</span>`;
  }
  function tick() {
    const now = Date.now() + skew;
    document.querySelectorAll("[data-since]").forEach((el) => {
      const at = Date.parse(el.dataset.since);
      if (!isNaN(at)) el.textContent = elapsed((now - at) / 1000);
    });
  }
  function set(id, text) { const el = $(id); if (el && el.textContent !== String(text)) el.textContent = String(text); }
  function html(id, markup) { const el = $(id); if (el) el.innerHTML = markup; }

  function queueRows(rows) {
    if (!rows.length) return '<tr><td colspan="8" class="empty">今日暂无来电</td></tr>';
    return rows.map((r) => `<tr data-key="${esc(r.key)}"${r.waiting ? ' class="waiting"' : ""}>` +
      `<th scope="row">${esc(r.title)}</th><td class="num">${r.waiting}</td>` +
      `<td class="num">${since(r.longest_wait_since)}</td><td class="num">${r.offered}</td>` +
      `<td class="num">${r.answered}</td><td class="num">${r.abandoned}</td>` +
      `<td class="num">${percent(r.answer_rate)}</td><td class="num">${percent(r.within_target)}</td></tr>`
    ).join("");
  }
  function seats(list) {
    if (!list.length) return '<li class="empty">暂无坐席</li>';
    return list.map((s) => `<li class="seat state-${esc(s.state)}" data-ext="${esc(s.extension)}" ` +
      `data-state="${esc(s.state)}"><span class="ext">${esc(s.extension)}</span>` +
      `<span class="st">${esc(s.label)}</span>${since(s.since)}</li>`).join("");
  }
  function lights(list) {
    if (!list.length) return '<li class="empty">暂无亮灯工单</li>';
    return list.map((c) => {
      const at = new Date(c.at).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit",
        hour12: false, timeZone: "Asia/Shanghai" });
      return `<li class="light-${esc(c.light)}"><span class="lamp ${esc(c.light)}"></span>` +
        `${esc(c.number)} ${esc(LIGHT_LABEL[c.light] || c.light)}` +
        `<span class="muted"> ${esc(c.unit || "")} ${esc(at)}</span></li>`;
    }).join("");
  }
  function bar(used, capacity) {
    const svg = $("wb-asr-bar");
    if (!svg) return;
    const width = Number(svg.getAttribute("width"));
    const filled = capacity > 0 ? Math.round(width * Math.min(used, capacity) / capacity) : 0;
    svg.querySelector("rect.fill").setAttribute("width", String(filled));
    svg.classList.toggle("full", capacity > 0 && used >= capacity);
    svg.setAttribute("aria-label", `转写容量 ${used}/${capacity}`);
  }

  // The same chart as wallboard_html.hour_chart (keep the two in step).
  const CHART_W = 720, CHART_H = 150, CHART_PLOT = 120;
  function rect(cls, x, base, width, height) {
    return `<rect class="${cls}" x="${x.toFixed(1)}" y="${(base - height).toFixed(1)}" ` +
      `width="${width.toFixed(1)}" height="${height.toFixed(1)}"/>`;
  }
  function hourChart(hours) {
    const slot = CHART_W / 24;
    const top = Math.max(1, ...hours.map((h) => h.offered));
    const scale = CHART_PLOT / top;
    let svg = `<svg class="hours" id="wb-hours" width="${CHART_W}" height="${CHART_H}" ` +
      `viewBox="0 0 ${CHART_W} ${CHART_H}" role="img" aria-label="今日每小时来电">`;
    for (const h of hours) {
      const x = h.hour * slot + 3;
      svg += `<g><title>${h.hour}时：呼入 ${h.offered}，接通 ${h.answered}，放弃 ${h.abandoned}</title>` +
        rect("off", x, CHART_PLOT, slot - 6, h.offered * scale) +
        rect("ans", x, CHART_PLOT, slot - 6, h.answered * scale) +
        rect("abd", x, CHART_PLOT - h.answered * scale, slot - 6, h.abandoned * scale) + "</g>";
    }
    for (let hour = 0; hour < 24; hour += 3) {
      svg += `<text x="${(hour * slot + 2).toFixed(1)}" y="${CHART_H - 8}">${hour}时</text>`;
    }
    return svg + `<text class="top" x="${CHART_W - 4}" y="12">峰值 ${top}</text></svg>`;
  }

  function render(f) {
    skew = Date.parse(f.now) - Date.now();
    const t = f.total;
    set("wb-waiting", t.waiting);
    $("wb-waiting").parentElement.classList.toggle("alert", t.waiting > 0);
    html("wb-longest", since(t.longest_wait_since));
    set("wb-answer-rate", percent(t.answer_rate));
    set("wb-within", percent(t.within_target));
    set("wb-offered", t.offered);
    set("wb-answered", t.answered);
    set("wb-abandoned", t.abandoned);
    $("wb-lines").tBodies[0].innerHTML = queueRows(f.lines);
    $("wb-skills").tBodies[0].innerHTML = queueRows(f.skills);
    html("wb-hours-box", hourChart(f.hours));
    html("wb-seat-counts", Object.entries(f.seat_counts).map(([s, n]) =>
      `<li class="state-${esc(s)}" data-state="${esc(s)}">${esc(STATE_LABEL[s] || s)} <strong>${n}</strong></li>`).join(""));
    set("wb-seat-total", `共 ${f.seats.length} 席`);
    html("wb-seats", seats(f.seats));
    set("wb-asr-used", f.asr.in_use);
    set("wb-asr-capacity", f.asr.capacity);
    set("wb-asr-refused", f.asr.refused_today);
    bar(f.asr.in_use, f.asr.capacity);
    set("wb-red", f.orders.red);
    set("wb-yellow", f.orders.yellow);
    set("wb-open", f.orders.open);
    html("wb-lights", lights(f.lights));
    set("wb-survey-due", f.surveys.due);
    set("wb-survey-calling", f.surveys.calling);
    set("wb-survey-done", f.surveys.done_today);
    set("wb-survey-failed", f.surveys.failed_today);
    set("wb-survey-scheduled", f.surveys.scheduled);
    set("wb-updated", new Date(f.now).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }));
    $("wallboard").dataset.updated = f.now;
  }

  async function catchUp() {
    const response = await fetch("/api/wallboard/figures", { credentials: "same-origin" });
    if (response.ok) render(await response.json());
  }
  function link(state, text) { const el = $("wb-link"); el.dataset.state = state; el.textContent = text; }
  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws");
    ws.onopen = () => { delay = 500; };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "hello") {
        link("live", "实时");
        catchUp().catch((e) => console.warn("wallboard catch-up failed", e));
      } else if (msg.type === "system.wallboard") {
        render(msg.data.figures);
      }
    };
    ws.onclose = () => {
      link("lost", "连接中断，正在重连…");
      setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    };
  }
  connect(500);
  setInterval(tick, 1000);
})();
