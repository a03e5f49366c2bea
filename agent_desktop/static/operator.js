// Operator desk: seat controls (/api/operator/*), the call (pop, live transcript, keyword
// alerts, knowledge suggestions), the draft order and its one action (派发 / 即办), the
// callback tasks and the operator's own recent calls and orders. Events come over one
// WebSocket (/ws); the pure part (keys, transcript folding, order body) is operator.model.js.
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
  const ORDER_STATUS = {
    accepted: "已受理", dispatched: "已派单", acknowledged: "已签收", replied: "已回复",
    returned: "已退单", reviewed: "已审核", surveyed: "已回访", archived: "已归档", merged: "已并单",
  };
  const KB_DEBOUNCE_MS = 700;
  const KB_QUERY_CHARS = 120;
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector("input[name=csrf_token]") || {}).value || "";

  const desk = {
    call: null, pop: null, lines: [], keywords: [], draft: null, edited: new Set(), unitEdited: false,
    units: new Map(), username: "", extension: "", state: "logged_out", article: null,
    busy: false, timer: null,
  };
  // What the tests (and a curious supervisor) can read: how fast things reached the screen.
  const stats = window.deskStats = {
    popLatencyMs: null, popBusMs: null, partials: 0, finals: 0, firstPartialAt: null, firstFinalAt: null,
    finalLagMs: [], drafts: 0,
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
    if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
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
    if (data.extension) { $("seat-ext").value = data.extension; desk.extension = data.extension; }
    if (data.call_id && data.call_id !== desk.call && data.state !== "wrap_up") newCall(data.call_id);
    if (before === "talking" && data.state !== "talking" && desk.call) {
      // The call ended: the stored transcript is complete, the record has its end time.
      $("live-status").textContent = "（通话已结束）";
      refreshDraft();
      loadLists();
    }
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
    $("draft").reset();
    $("draft-fields").disabled = false;
    $("draft-empty").hidden = true;
    for (const id of ["why-kind", "why-category", "why-address", "why-unit", "why-assisting",
      "why-limit", "why-mode"]) $(id).textContent = "";
    $("mode-label").textContent = "—";
    if (!$("kb-q").value) { $("kb-hits").replaceChildren(); $("kb-source").textContent = ""; }
    notice("");
    refreshDraft();
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
    if (!frame.time) return; // restored from this tab's storage, not a live pop
    if (pop.ami_received_at) stats.popLatencyMs = now - pop.ami_received_at * 1000;
    stats.popBusMs = now - Date.parse(frame.time);
  }

  function drawLine(line) {
    let li = document.getElementById("seg-" + line.id);
    if (!li) {
      li = el("li");
      li.id = "seg-" + line.id;
      $("transcript").appendChild(li);
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
    if (!desk.keywords.includes(data.keyword)) desk.keywords.push(data.keyword);
    const a = $("alerts");
    a.hidden = false;
    a.textContent = "关键词告警：" + desk.keywords.join("、") + "（" + (M.SPEAKERS[data.channel] || "") + "）";
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

  // ---------------------------------------------------------------- the draft
  function formValues() {
    const v = {};
    for (const input of document.querySelectorAll("#draft [data-field]")) v[input.dataset.field] = input.value;
    return v;
  }

  async function refreshDraft() {
    const call = desk.call;
    if (!call) return;
    try {
      const draft = await get("/api/calls/" + encodeURIComponent(call) + "/draft");
      if (call === desk.call && desk.draft !== "taken") applyDraft(draft);
    } catch (err) { /* the call record may not be stored yet; the next words ask again */ }
  }

  function setWhy(id, s) { $(id).textContent = s ? "建议：" + s.label + "（" + s.reason + "）" : ""; }

  function applyDraft(draft) {
    stats.drafts += 1;
    if (!desk.lines.length && draft.transcript.length) {
      // The page was opened (or reloaded) during or after the call: what was said so far.
      desk.lines = M.storedLines(draft.transcript);
      $("live").hidden = false;
      for (const line of desk.lines) drawLine(line);
    }
    const merged = M.mergeDraft(formValues(), draft.order, desk.edited);
    desk.draft = draft;
    for (const input of document.querySelectorAll("#draft [data-field]")) {
      const f = input.dataset.field;
      if (desk.edited.has(f)) continue;
      if (f === "time_limit_class" && !merged[f]) continue; // keep the preset's default
      input.value = merged[f] == null ? "" : merged[f];
    }
    const s = draft.suggestions;
    setWhy("why-kind", s.kind);
    setWhy("why-category", s.category);
    setWhy("why-address", s.address);
    setWhy("why-limit", s.time_limit);
    $("mode-label").textContent = s.mode.label + (s.urgent ? "（紧急）" : "");
    $("why-mode").textContent = s.mode.reason;
    if (s.units && s.units.units.length) {
      $("why-unit").textContent = "建议：" + s.units.units.map((u) => u.name).join("、") + "（" + s.units.reason + "）";
      if (!desk.unitEdited) $("f-unit").value = s.units.units[0].id;
    } else {
      $("why-unit").textContent = "职责清单中没有对应单位，请选择承办单位或即办";
    }
    $("why-assisting").textContent = s.assisting
      ? "协办：" + s.assisting.units.map((u) => u.name).join("、") + "（" + s.assisting.reason + "）" : "";
    if (draft.articles.length && !$("kb-q").value.trim() && !$("kb-hits").children.length) {
      $("kb-source").textContent = "工单建议的知识库条目";
      drawHits(draft.articles);
    }
  }

  async function take(onCall) {
    if (desk.busy) return;
    showError("");
    if (!desk.call || $("draft-fields").disabled) { showError("没有进行中的工单草稿"); return; }
    if (desk.draft && !desk.draft.order.call_ended_at && desk.state !== "talking") {
      await refreshDraft(); // the call has ended since: its end time goes with the order
    }
    const form = formValues();
    const unit = $("f-unit").value;
    const assisting = !desk.unitEdited && desk.draft && desk.draft.suggestions && desk.draft.suggestions.assisting
      ? desk.draft.suggestions.assisting.units.map((u) => u.id) : [];
    let note = $("f-note").value.trim();
    if (onCall && !note && desk.draft && desk.draft.articles.length) {
      desk.article = desk.draft.articles[0];
      note = "按知识库《" + desk.article.title + "》答复";
    }
    const opts = { unit, assisting, onCall, note };
    const why = M.blocker(form, opts);
    if (why) { showError(why.text); $(why.field).focus(); return; }
    const base = desk.draft ? desk.draft.order : { channel: "phone", call_linkedid: desk.call };
    desk.busy = true;
    try {
      const order = await post("/api/orders", M.takeBody(base, form, opts));
      if (onCall && desk.article) post("/api/knowledge/" + desk.article.id + "/used").catch(() => {});
      const where = onCall ? "已即办办结" : "已派发至 " + (desk.units.get(unit) || unit);
      notice("工单 " + order.number + " " + where);
      $("desk-notice").dataset.order = order.number;
      doneWithCall();
      if (desk.state === "wrap_up") await act("ready"); // after-call work is done: next call
      loadLists();
    } catch (err) {
      showError((onCall ? "即办" : "派发") + "失败：" + err.message);
    } finally {
      desk.busy = false;
    }
  }

  function doneWithCall() {
    desk.draft = "taken";
    forget();
    $("draft").reset();
    $("draft-fields").disabled = true;
    $("draft-empty").hidden = false;
    $("draft-call").textContent = "";
    for (const id of ["why-kind", "why-category", "why-address", "why-unit", "why-assisting",
      "why-limit", "why-mode"]) $(id).textContent = "";
    $("mode-label").textContent = "—";
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }

  // ---------------------------------------------------------------- lists
  // Each list on its own: a server without that feature (or a failed request) leaves the
  // list saying so and the rest of the desk working.
  async function loadLists() {
    const lists = [
      ["callback-list", "/api/callbacks?status=open&limit=20", (d) => drawCallbacks(d.callbacks)],
      ["call-list", "/api/calls?limit=200", (d) => drawRows("call-list",
        M.myCalls(d.calls, desk.extension, 8), (c) => [when(c.entered_at),
          c.caller_number || "（无号码）", c.line || c.dnis || "",
          OUTCOMES[c.outcome] || c.outcome].join(" · "))],
      ["order-list", "/api/orders?limit=200", (d) => drawRows("order-list",
        M.myOrders(d.orders, desk.username, 8), (o) =>
          [o.number, o.title, ORDER_STATUS[o.status] || o.status].join(" · "))],
    ];
    await Promise.all(lists.map(([id, path, draw]) => get(path).then(draw).catch((err) => {
      $(id).replaceChildren(el("li", "暂不可用（" + err.message + "）", "muted"));
    })));
  }

  function drawRows(id, items, text) {
    const list = $(id);
    list.replaceChildren(...items.map((item) => el("li", text(item))));
    if (!items.length) list.appendChild(el("li", "暂无", "muted"));
  }

  function drawCallbacks(tasks) {
    const list = $("callback-list");
    list.replaceChildren();
    $("callback-empty").hidden = tasks.length > 0;
    for (const t of tasks) {
      const li = el("li");
      li.dataset.task = t.id;
      li.append(el("span", t.number + " · 漏接 " + t.missed_count + " 次 · 最近 " + when(t.last_missed_at)));
      const done = el("button", "已回拨", "secondary small");
      done.type = "button";
      done.setAttribute("aria-label", "已回拨 " + t.number);
      done.addEventListener("click", async () => {
        try {
          await post("/api/callbacks/" + t.id + "/done");
          notice("回拨任务 " + t.number + " 已完成");
          await loadLists();
          const next = document.querySelector("#callback-list button");
          if (next) next.focus();
        } catch (err) { showError("操作失败：" + err.message); }
      });
      li.append(done);
      list.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- reload-safe draft
  // The draft not yet taken, with the operator's corrections, survives a reload of the
  // tab (sessionStorage: this tab only, gone when it closes). In 话后整理 the server no
  // longer says which call the seat was on, so this is how a reloaded desk finds it.
  const SAVED = "hotline.desk.draft";

  function save() {
    if (!desk.call || desk.draft === "taken") return;
    const values = {};
    const form = formValues();
    for (const f of desk.edited) values[f] = form[f];
    try {
      sessionStorage.setItem(SAVED, JSON.stringify({
        call: desk.call, pop: desk.pop, values, unit: desk.unitEdited ? $("f-unit").value : null,
        note: $("f-note").value,
      }));
    } catch (err) { /* storage full or disabled: the desk works without it */ }
  }

  function forget() {
    try { sessionStorage.removeItem(SAVED); } catch (err) { /* nothing kept */ }
  }

  function restore() {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(SAVED) || "null"); } catch (err) { return; }
    if (!saved || !saved.call || (desk.call && desk.call !== saved.call)) return;
    if (desk.call !== saved.call) newCall(saved.call);
    if (saved.pop) showPop(saved.pop, {});
    for (const [f, v] of Object.entries(saved.values || {})) {
      const input = document.querySelector(`#draft [data-field="${CSS.escape(f)}"]`);
      if (input) { input.value = v; desk.edited.add(f); }
    }
    if (saved.unit !== null && saved.unit !== undefined) {
      $("f-unit").value = saved.unit;
      desk.unitEdited = true;
    }
    $("f-note").value = saved.note || "";
    if (!["ringing", "talking"].includes(desk.state)) $("live-status").textContent = "（通话已结束）";
    save();
  }

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
      for (const e of frame.events || []) handle(e);
      return;
    }
    const data = frame.data || {};
    switch (frame.type) {
      case "operator.state": showState(data); break;
      case "operator.pop": showPop(data, frame); break;
      case "transcript.partial":
      case "transcript.final": showTranscript(frame, data); break;
      case "alert.keyword": showAlert(data); break;
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
