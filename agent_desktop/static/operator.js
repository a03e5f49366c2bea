// Operator desk, the shell: seat controls (/api/operator/*), the call (pop, live
// transcript of both speakers, keyword alerts, knowledge suggestions and hand search), the
// keyboard, and the one WebSocket (/ws) the events come over. Three files, loaded in order:
// operator.model.js (pure: keys, transcript folding, the order body), operator.order.js
// (the draft, the one action, the lists), this one (wires them together and starts).
"use strict";
(function () {
  const M = window.DeskModel;
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
  const ALERT_ACTIONS = {
    transfer_119: "请考虑转接 119", transfer_110: "请考虑转接 110", transfer_120: "请考虑转接 120",
    alert_supervisor: "已提醒班长",
  };
  const KB_DEBOUNCE_MS = 700;
  const KB_QUERY_CHARS = 120;
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector("input[name=csrf_token]") || {}).value || "";

  const desk = {
    call: null, pop: null, wrapUntil: null, lines: [], keywords: [], draft: null, edited: new Set(), unitEdited: false,
    units: new Map(), username: "", extension: "", state: "logged_out", article: null,
    busy: false, timer: null,
  };
  // What the tests (and a curious supervisor) can read: how fast things reached the screen.
  const stats = window.deskStats = {
    popLatencyMs: null, popBusMs: null, partials: 0, finals: 0, firstPartialAt: null, firstFinalAt: null,
    finalLagMs: [], drafts: 0, otherSeats: 0, callbackEvents: 0, hello: false,
  };

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function when(iso) { return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : ""; }
  function showError(text) { $("desk-error").textContent = text || ""; }
  function notice(text) { $("desk-notice").textContent = text || ""; }

  async function request(method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf();
      init.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, init);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error((data.error && data.error.message) || r.statusText);
      err.status = r.status;
      err.error = data.error || null; // {code, message, ...}: what the caller may act on
      throw err;
    }
    return data;
  }
  const get = (path) => request("GET", path);
  const post = (path, body) => request("POST", path, body);

  // ---------------------------------------------------------------- the seat
  function showState(data) {
    const before = desk.state;
    desk.state = data.state;
    const s = $("seat-state");
    s.dataset.state = data.state;
    s.textContent = STATES[data.state] || data.state;
    if (data.state === "paused" && data.reason) {
      // The reason arrives as its code ("meal"): show the select's Chinese label.
      const opt = $("pause-reason").querySelector(`option[value="${CSS.escape(data.reason)}"]`);
      s.textContent += "（" + (opt ? opt.textContent : data.reason) + "）";
    }
    desk.wrapUntil = data.state === "wrap_up" && data.wrap_up_until ? data.wrap_up_until : null;
    showLeft();
    if (data.extension) { $("seat-ext").value = data.extension; desk.extension = data.extension; }
    if (data.call_id && data.call_id !== desk.call && data.state !== "wrap_up") newCall(data.call_id);
    if (before === "talking" && data.state !== "talking" && desk.call) {
      // The call ended: the stored transcript is complete, the record has its end time.
      $("live-status").textContent = "（通话已结束）";
      refreshDraft();
      loadLists();
    }
  }

  // How long 话后整理 has left (the seat rules end it by themselves at wrap_up_until).
  function showLeft() {
    const left = desk.wrapUntil ? M.countdown(desk.wrapUntil, Date.now()) : "";
    $("seat-left").textContent = left ? "剩 " + left : "";
  }
  setInterval(showLeft, 1000);

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

  // ---------------------------------------------------------------- the call
  function newCall(callId) {
    desk.call = callId;
    desk.lines = [];
    desk.keywords = [];
    desk.draft = null;
    desk.edited = new Set();
    desk.unitEdited = false;
    desk.article = null;
    $("transcript").replaceChildren();
    $("alerts").hidden = true;
    $("alerts").textContent = "";
    $("live-status").textContent = "";
    $("draft-call").textContent = "通话 " + callId;
    $("draft-exists").hidden = true;
    $("draft").reset();
    $("draft-fields").disabled = false;
    $("draft-empty").hidden = true;
    for (const id of ["why-kind", "why-category", "why-address", "why-unit", "why-assisting",
      "why-limit", "why-mode"]) $(id).textContent = "";
    $("mode-label").textContent = "—";
    if (!$("kb-q").value) { $("kb-hits").replaceChildren(); $("kb-source").textContent = ""; }
    notice("");
    refreshDraft();
    loadAlerts(callId);
  }

  function showPop(pop, frame) {
    if (pop.call_id !== desk.call) newCall(pop.call_id);
    desk.pop = pop;
    save();
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
      const outcome = OUTCOMES[call.outcome] || call.outcome || "";
      list.appendChild(el("li", [when(call.entered_at), call.line || call.dnis || "", outcome].join(" · ")));
    }
    if (!$("f-caller-number").value) $("f-caller-number").value = pop.caller_number || "";
    if (!$("f-caller-name").value) $("f-caller-name").value = pop.caller_name || "";
    // Keyboard-first: while the phone rings, the draft is where the hands go next (unless
    // the operator is typing somewhere already).
    if (document.activeElement === document.body || !document.activeElement) $("f-kind").focus();
    const now = Date.now();
    showCallerOrders(pop.caller_number, pop.call_id);
    if (!frame.time) return; // restored from this tab's storage, not a live pop
    if (pop.ami_received_at) stats.popLatencyMs = now - pop.ami_received_at * 1000;
    stats.popBusMs = now - Date.parse(frame.time);
  }

  function drawLine(line) {
    let li = document.getElementById("seg-" + line.id);
    if (!li) {
      const list = $("transcript");
      // Follow the talk unless the operator scrolled up to read something.
      const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
      li = el("li");
      li.id = "seg-" + line.id;
      list.appendChild(li);
      if (atEnd) list.scrollTop = list.scrollHeight;
    }
    li.className = line.channel + (line.final ? " final" : " partial");
    const text = el("span", null, "text");
    for (const part of M.highlight(line.text, desk.keywords)) {
      text.appendChild(part.hit ? el("mark", part.text) : document.createTextNode(part.text));
    }
    li.replaceChildren(el("span", M.SPEAKERS[line.channel] || line.channel, "who"), text);
  }

  function showTranscript(frame, data) {
    if (data.call_id !== desk.call) return;
    $("live").hidden = false;
    const { lines, id } = M.applyTranscript(desk.lines, frame.type, data);
    if (id === null) return;
    desk.lines = lines;
    drawLine(lines.find((l) => l.id === id));
    const now = Date.now();
    if (frame.type === "transcript.final") {
      stats.finals += 1;
      if (stats.firstFinalAt === null) stats.firstFinalAt = now;
      if (frame.time) stats.finalLagMs.push(now - Date.parse(frame.time));
      clearTimeout(desk.timer);
      desk.timer = setTimeout(onNewWords, KB_DEBOUNCE_MS);
    } else {
      stats.partials += 1;
      if (stats.firstPartialAt === null) stats.firstPartialAt = now;
    }
  }

  function showAlert(data) {
    if (data.call_id !== desk.call) return;
    desk.keywords = M.storedAlerts(desk.keywords, [data]).keywords;
    drawAlerts(data);
  }

  // The alerts said before this page was (re)opened: their banner and highlights again.
  async function loadAlerts(callId) {
    try {
      const data = await get("/api/calls/" + encodeURIComponent(callId) + "/alerts");
      if (callId !== desk.call || !data.alerts.length) return;
      const { keywords, last } = M.storedAlerts(desk.keywords, data.alerts);
      desk.keywords = keywords;
      drawAlerts(last);
    } catch (err) { /* none stored or the store busy: live alerts still come */ }
  }

  function drawAlerts(data) {
    const a = $("alerts");
    a.hidden = false;
    const what = ALERT_ACTIONS[data.action] ? "，" + ALERT_ACTIONS[data.action] : "";
    a.textContent = "关键词告警：" + desk.keywords.join("、") + "（" +
      (M.SPEAKERS[data.channel] || "") + what + "）";
    for (const line of desk.lines) drawLine(line);
  }

  // New final words: ask the knowledge base and the draft again (debounced).
  function onNewWords() {
    const said = M.recentText(desk.lines, KB_QUERY_CHARS);
    if (said && !$("kb-q").value.trim()) searchKnowledge(said, "根据通话内容");
    refreshDraft();
  }

  // ---------------------------------------------------------------- knowledge
  async function searchKnowledge(q, source) {
    try {
      const data = await get("/api/knowledge?limit=5&q=" + encodeURIComponent(q));
      if (source !== "搜索" && $("kb-q").value.trim()) return; // a hand search came first
      $("kb-source").textContent = source + "：“" + q + "”" + (data.hits.length ? "" : " 无匹配条目");
      drawHits(data.hits);
    } catch (err) { showError("知识库搜索失败：" + err.message); }
  }

  function drawHits(hits) {
    const list = $("kb-hits");
    list.replaceChildren();
    for (const hit of hits) {
      const li = el("li");
      li.append(el("strong", hit.title), el("p", hit.snippet, "snippet"));
      if (hit.matched && hit.matched.length) li.append(el("small", "匹配：" + hit.matched.join(" "), "muted"));
      const use = el("button", "用于即办", "secondary small");
      use.type = "button";
      use.addEventListener("click", () => {
        desk.article = hit;
        $("f-note").value = "按知识库《" + hit.title + "》答复：" + hit.snippet;
        notice("已选用知识库条目《" + hit.title + "》，按 Alt+J 即办");
      });
      li.append(use);
      list.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- the order side
  const order = window.DeskOrder({
    M, $, el, when, get, post, showError, notice, desk, stats, OUTCOMES,
    act: (action) => act(action), drawLine: (line) => drawLine(line),
    drawHits: (hits) => drawHits(hits), newCall: (id) => newCall(id),
    showPop: (pop, frame) => showPop(pop, frame),
  });
  const { formValues, refreshDraft, take, loadLists, save, restore, showCallerOrders,
    callbacksChanged } = order;

  // ---------------------------------------------------------------- keyboard
  function inField(target) {
    return !!target && (target.isContentEditable ||
      (target.tagName === "INPUT" && !["button", "submit", "checkbox", "radio"].includes(target.type)) ||
      target.tagName === "TEXTAREA" || target.tagName === "SELECT");
  }

  const ACTIONS = {
    dispatch: () => take(false),
    on_call: () => take(true),
    edit: () => { if (!$("draft-fields").disabled) { $("f-title").focus(); $("f-title").select(); } },
    search: () => { $("kb-q").focus(); $("kb-q").select(); },
    ready: () => act("ready"),
    pause: () => act("pause"),
    leave: () => { if (document.activeElement) document.activeElement.blur(); },
    callbacks: () => { const b = document.querySelector("#callback-list button"); if (b) b.focus(); },
  };

  document.addEventListener("keydown", (e) => {
    const action = M.shortcutFor({ key: e.key, code: e.code, altKey: e.altKey, ctrlKey: e.ctrlKey,
      metaKey: e.metaKey, shiftKey: e.shiftKey, inField: inField(e.target) });
    if (!action) return;
    e.preventDefault();
    ACTIONS[action]();
  });

  function drawShortcuts() {
    const list = $("shortcuts");
    for (const s of M.SHORTCUTS) {
      const li = el("li");
      li.dataset.action = s.action;
      li.append(el("kbd", s.keys), document.createTextNode(" " + s.label));
      list.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- the socket
  function handle(frame) {
    if (frame.type === "hello") {
      if (frame.extension && !desk.extension) desk.extension = frame.extension;
      stats.hello = true; // the socket is up: pushes reach this page from now on
      for (const e of frame.events || []) handle(e);
      return;
    }
    if (!M.forMySeat(frame, desk.extension)) { stats.otherSeats += 1; return; }
    const data = frame.data || {};
    switch (frame.type) {
      case "operator.state": showState(data); break;
      case "operator.pop": showPop(data, frame); break;
      case "transcript.partial":
      case "transcript.final": showTranscript(frame, data); break;
      case "alert.keyword": showAlert(data); break;
      case "call.callback_task": stats.callbackEvents += 1; callbacksChanged(); break;
    }
  }

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws");
    ws.onmessage = (m) => { try { handle(JSON.parse(m.data)); } catch (e) { console.error(e); } };
    ws.onopen = () => { delay = 500; };
    ws.onclose = () => setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  }

  // ---------------------------------------------------------------- start
  document.querySelectorAll("#seat button[data-act]").forEach((b) => {
    b.addEventListener("click", () => act(b.dataset.act));
  });
  for (const input of document.querySelectorAll("#draft [data-field]")) {
    input.addEventListener("input", () => { desk.edited.add(input.dataset.field); save(); });
  }
  $("f-unit").addEventListener("change", () => { desk.unitEdited = true; save(); });
  $("f-note").addEventListener("input", save);
  $("btn-dispatch").addEventListener("click", () => take(false));
  $("btn-oncall").addEventListener("click", () => take(true));
  $("draft").addEventListener("submit", (e) => e.preventDefault());
  $("kb-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("kb-q").value.trim();
    if (q) searchKnowledge(q, "搜索");
  });
  drawShortcuts();

  const optional = (p) => p.catch((err) => console.warn("desk:", err.message));
  Promise.all([
    optional(get("/api/me").then((me) => { desk.username = me.username; })),
    optional(get("/api/operator/me").then((d) => { if (d.state) showState(d); })),
    optional(get("/api/units").then((d) => {
      for (const u of d.units.filter((x) => x.active)) {
        desk.units.set(u.id, u.name);
        const o = el("option", u.name);
        o.value = u.id;
        $("f-unit").appendChild(o);
      }
    })),
    optional(get("/api/sla").then((d) => {
      for (const c of d.classes) {
        const o = el("option", c.label);
        o.value = c.key;
        o.selected = o.defaultSelected = c.key === d.default_class;
        $("f-limit").appendChild(o);
      }
    })),
  ]).finally(() => {
    restore();
    loadLists();
    connect(500);
  });
})();
