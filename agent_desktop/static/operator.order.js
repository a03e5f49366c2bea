// Operator desk, the order side: the draft order beside the call (prefilled from the
// call and its transcript, with the suggestions and their reasons, corrections kept),
// the one action (派发 / 即办), the untaken draft kept across a reload, and the lists
// (callback tasks, the operator's own recent calls and orders).
// `window.DeskOrder(ctx)` is called once by operator.js with what it shares (the desk's
// state, DOM and HTTP helpers, the seat action and the call's drawing); it returns the
// functions operator.js uses.
"use strict";
window.DeskOrder = function (ctx) {
  const { M, $, el, when, get, post, showError, notice, desk, stats, OUTCOMES } = ctx;
  const ORDER_STATUS = {
    accepted: "已受理", dispatched: "已派单", acknowledged: "已签收", replied: "已回复",
    returned: "已退单", reviewed: "已审核", surveyed: "已回访", archived: "已归档", merged: "已并单",
  };

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
      for (const line of desk.lines) ctx.drawLine(line);
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
      ctx.drawHits(draft.articles);
    }
  }

  async function take(onCall, another) {
    if (desk.busy) return; // one order per press, however fast the keys repeat
    desk.busy = true;
    try {
      await takeOnce(onCall, !!another);
    } finally {
      desk.busy = false;
    }
  }

  async function takeOnce(onCall, another) {
    showError("");
    showExisting(null);
    if (!desk.call || $("draft-fields").disabled) { showError("没有进行中的工单草稿"); return; }
    if (desk.draft && !desk.draft.order.call_ended_at && desk.state !== "talking") {
      await refreshDraft(); // the call has ended since: its end time goes with the order
    }
    const form = formValues();
    const unit = $("f-unit").value;
    const s = desk.draft && desk.draft.suggestions;
    const assisting = !desk.unitEdited && s && s.assisting ? s.assisting.units.map((u) => u.id) : [];
    let note = $("f-note").value.trim();
    if (onCall && !note && desk.draft && desk.draft.articles.length) {
      desk.article = desk.draft.articles[0];
      note = "按知识库《" + desk.article.title + "》答复";
    }
    const opts = { unit, assisting, onCall, note, another };
    const why = M.blocker(form, opts);
    if (why) { showError(why.text); $(why.field).focus(); return; }
    const base = desk.draft ? desk.draft.order : { channel: "phone", call_linkedid: desk.call };
    let order;
    try {
      order = await post("/api/orders", M.takeBody(base, form, opts));
    } catch (err) {
      const existing = M.existingOrder(err.error);
      if (existing) { await showExisting(existing, onCall); return; }
      showError((onCall ? "即办" : "派发") + "失败：" + err.message);
      return;
    }
    if (onCall && desk.article) post("/api/knowledge/" + desk.article.id + "/used").catch(() => {});
    const where = onCall ? "已即办办结" : "已派发至 " + (desk.units.get(unit) || unit);
    notice("工单 " + order.number + " " + where);
    $("desk-notice").dataset.order = order.number;
    doneWithCall();
    if (desk.state === "wrap_up") await ctx.act("ready"); // after-call work is done: next call
    loadLists();
  }

  // The call has its order already (another tab, or a press that reached the server
  // twice): show that order, not an error; 另建一单 takes a second one for a second,
  // unrelated request of the same caller. `number` null: hide it.
  async function showExisting(number, onCall) {
    const box = $("draft-exists");
    if (!number) { box.hidden = true; return; }
    let text = "本通话已有工单 " + number;
    try {
      const o = await get("/api/orders/" + encodeURIComponent(number));
      text += "：" + [o.title, ORDER_STATUS[o.status] || o.status, M.LIGHTS[o.light] || o.light].join(" · ");
    } catch (err) { /* the number alone still says where it is */ }
    $("draft-exists-text").textContent = text + "。";
    box.dataset.order = number;
    box.hidden = false;
    $("desk-notice").dataset.order = number;
    const again = $("btn-another");
    again.onclick = () => take(onCall, true);
    again.focus();
  }

  // The caller's orders still being worked, beside the pop: a repeat request (重复来电)
  // is seen before the operator takes a second order for it.
  async function showCallerOrders(number, callId) {
    const list = $("pop-orders");
    const path = M.openOrdersPath(number, 5);
    $("pop-repeat").hidden = true;
    list.replaceChildren();
    if (!path) return;
    try {
      const data = await get(path);
      if (callId !== desk.call) return;
      for (const o of data.orders) {
        const li = el("li");
        li.dataset.order = o.number;
        const light = el("span", M.LIGHTS[o.light] || o.light, "light " + o.light);
        li.append(light, document.createTextNode(" " + [o.number, o.title,
          ORDER_STATUS[o.status] || o.status, when(o.created_at)].join(" · ")));
        list.appendChild(li);
      }
      $("pop-repeat-count").textContent = data.orders.length;
      $("pop-repeat").hidden = data.orders.length === 0;
    } catch (err) { /* the pop works without it */ }
  }

  function doneWithCall() {
    desk.draft = "taken";
    forget();
    $("draft-exists").hidden = true;
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
      ["callback-list", CALLBACKS, (d) => drawCallbacks(d.callbacks)],
      ["call-list", M.myCallsPath(desk.extension, 8), (d) => drawRows("call-list", d.calls,
        (c) => [when(c.entered_at), c.caller_number || "（无号码）", c.line || c.dnis || "",
          OUTCOMES[c.outcome] || c.outcome].join(" · "))],
      ["order-list", M.myOrdersPath(desk.username, 8), (d) => drawRows("order-list", d.orders,
        (o) => [o.number, o.title, ORDER_STATUS[o.status] || o.status].join(" · "))],
    ];
    await Promise.all(lists.map(([id, path, draw]) => loadList(id, path, draw)));
  }

  function loadList(id, path, draw) {
    if (!path) { drawRows(id, [], null); return Promise.resolve(); } // not signed in at a seat yet
    return get(path).then(draw).catch((err) => {
      $(id).replaceChildren(el("li", "暂不可用（" + err.message + "）", "muted"));
    });
  }

  // The callback list follows the bus (call.callback_task): read it again, at most once
  // per half second however many tasks change at once; the server words each row.
  const CALLBACKS = "/api/callbacks?status=open&limit=20";
  let callbacksTimer = null;
  function callbacksChanged() {
    if (callbacksTimer) return;
    callbacksTimer = setTimeout(() => {
      callbacksTimer = null;
      loadList("callback-list", CALLBACKS, (d) => drawCallbacks(d.callbacks));
    }, 500);
  }

  function drawRows(id, items, text) {
    const list = $(id);
    list.replaceChildren(...items.map((item) => el("li", text(item))));
    if (!items.length) list.appendChild(el("li", "暂无", "muted"));
  }

  // The dialer's mode (GET /api/callbacks/dialer): in auto mode each task shows where the
  // dialer is with it and may be taken by hand (我来回拨); in manual mode all are by hand.
  async function dialerMode() {
    if (desk.dialerMode) return desk.dialerMode;
    try {
      desk.dialerMode = (await get("/api/callbacks/dialer")).mode;
    } catch (err) { return "manual"; } // no dialer on this server: a later load asks again
    return desk.dialerMode;
  }

  function callbackButton(text, label, action, done) {
    const b = el("button", text, "secondary small");
    b.type = "button";
    b.setAttribute("aria-label", label);
    b.addEventListener("click", async () => {
      try {
        await post(action);
        notice(done);
        await loadList("callback-list", CALLBACKS, (d) => drawCallbacks(d.callbacks));
        const next = document.querySelector("#callback-list button");
        if (next) next.focus();
      } catch (err) { showError("操作失败：" + err.message); }
    });
    return b;
  }

  async function drawCallbacks(tasks) {
    const auto = (await dialerMode()) === "auto";
    const list = $("callback-list");
    list.replaceChildren();
    $("callback-empty").hidden = tasks.length > 0;
    for (const t of tasks) {
      const li = el("li");
      li.dataset.task = t.id;
      li.dataset.dialState = t.dial_state;
      const what = el("span", t.number + " · 漏接 " + t.missed_count + " 次 · 最近 " + when(t.last_missed_at));
      if (auto) {
        const words = [t.dial_state_label, t.outcome_label, t.reason_label].filter((w) => w);
        const dial = el("small", words.join(" · "), "dial " + t.dial_state);
        if (t.dial_state === "waiting" && t.next_dial_at) dial.append(" · " + when(t.next_dial_at) + " 拨打");
        what.append(el("br"), dial);
      }
      li.append(what);
      if (auto && t.takeable) {
        li.append(callbackButton("我来回拨", "我来回拨 " + t.number, "/api/callbacks/" + t.id + "/take",
          "回拨任务 " + t.number + " 已由你认领，请人工回拨"));
      }
      li.append(callbackButton("已回拨", "已回拨 " + t.number, "/api/callbacks/" + t.id + "/done",
        "回拨任务 " + t.number + " 已完成"));
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
    if (desk.call !== saved.call) ctx.newCall(saved.call);
    if (saved.pop) ctx.showPop(saved.pop, {});
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

  return { formValues, refreshDraft, take, loadLists, save, restore, showCallerOrders,
    callbacksChanged };
};
