// Operator desk: seat controls over /api/operator/*, events over one WebSocket (/ws).
// Small on purpose: the full desktop comes with issue 7.
"use strict";
(function () {
  const STATES = {
    logged_out: "未签入", ready: "就绪", paused: "示忙", ringing: "振铃",
    talking: "通话中", wrap_up: "话后整理", unreachable: "话机离线",
  };
  const FLAGS = {
    open_callback: "待回拨", frequent_caller: "重复来电", enterprise: "企业诉求",
    key_caller: "重点来电人", withheld: "隐藏号码",
  };
  const OUTCOMES = {
    in_progress: "进行中", answered: "已接通", abandoned: "放弃", hung_up_in_hold: "等待中挂断",
  };
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector("input[name=csrf_token]") || {}).value || "";
  let currentCall = null;

  function showError(text) { $("desk-error").textContent = text || ""; }

  function showState(data) {
    const el = $("seat-state");
    el.dataset.state = data.state;
    el.textContent = STATES[data.state] || data.state;
    if (data.state === "paused" && data.reason) {
      // The reason arrives as its code ("meal"): show the select's Chinese label.
      const opt = $("pause-reason").querySelector(`option[value="${CSS.escape(data.reason)}"]`);
      el.textContent += "（" + (opt ? opt.textContent : data.reason) + "）";
    }
    if (data.extension) $("seat-ext").value = data.extension;
    if (data.call_id) currentCall = data.call_id;
  }

  function showPop(pop) {
    currentCall = pop.call_id;
    $("pop").hidden = false;
    $("pop-number").textContent = pop.caller_number || "（无主叫号码）";
    $("pop-name").textContent = pop.caller_name || "";
    $("pop-dnis").textContent = pop.dnis || "";
    $("pop-line").textContent = pop.line && pop.line.name ? "（" + pop.line.name + "）" : "";
    const h = pop.history || {};
    $("pop-total").textContent = h.total_calls || 0;
    $("pop-answered").textContent = h.answered_calls || 0;
    $("pop-abandoned").textContent = h.abandoned_calls || 0;
    $("pop-flags").textContent = (h.flags || []).map((f) => FLAGS[f] || f).join("、");
    const list = $("pop-history");
    list.replaceChildren();
    for (const call of h.last_calls || []) {
      const li = document.createElement("li");
      const when = call.entered_at ? new Date(call.entered_at).toLocaleString("zh-CN") : "";
      const outcome = OUTCOMES[call.outcome] || call.outcome || "";
      li.textContent = [when, call.line || call.dnis || "", outcome].join(" · ");
      list.appendChild(li);
    }
    $("transcript").replaceChildren();
    $("alerts").textContent = "";
  }

  function showTranscript(type, data) {
    if (data.call_id !== currentCall) return;
    $("live").hidden = false;
    const id = "seg-" + data.channel + "-" + data.segment;
    let li = document.getElementById(id);
    if (!li) {
      li = document.createElement("li");
      li.id = id;
      $("transcript").appendChild(li);
    }
    li.textContent = (data.channel === "caller" ? "市民：" : "话务员：") + data.text;
    li.className = type === "transcript.partial" ? "partial" : "final";
  }

  function handle(frame) {
    if (frame.type === "hello") {
      for (const e of frame.events || []) handle(e);
      return;
    }
    const data = frame.data || {};
    switch (frame.type) {
      case "operator.state": showState(data); break;
      case "operator.pop": showPop(data); break;
      case "transcript.partial":
      case "transcript.final": showTranscript(frame.type, data); break;
      case "alert.keyword":
        if (data.call_id === currentCall) $("alerts").textContent = "关键词告警：" + data.keyword;
        break;
    }
  }

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws");
    ws.onmessage = (m) => { try { handle(JSON.parse(m.data)); } catch (e) { console.error(e); } };
    ws.onopen = () => { delay = 500; };
    ws.onclose = () => setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  }

  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    const data = await r.json();
    if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
    return data;
  }

  async function act(action) {
    showError("");
    try {
      const ext = $("seat-ext").value.trim();
      const data = action === "login"
        ? await post("/api/operator/login", ext ? { extension: ext } : {})
        : await post("/api/operator/state", action === "pause"
          ? { action, reason: $("pause-reason").value } : { action });
      showState(data);
    } catch (err) { showError("操作失败：" + err.message); }
  }

  document.querySelectorAll("#seat button[data-act]").forEach((b) => {
    b.addEventListener("click", () => act(b.dataset.act));
  });
  fetch("/api/operator/me", { credentials: "same-origin" })
    .then((r) => r.json()).then((d) => { if (d.state) showState(d); }).catch(() => {});
  connect(500);
})();
