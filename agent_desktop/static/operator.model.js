// Operator desk, the pure part: no DOM, no network. operator.js draws what these return.
// Tested in Chromium by tests/e2e/test_desk_model.py (no server needed).
"use strict";
(function (root) {
  // The keyboard: one table, drawn on the page as the shortcut bar, read by the key handler.
  // `code` (physical key) rather than `key`: Alt changes `key` on some layouts.
  const SHORTCUTS = [
    { keys: "Alt+D", code: "KeyD", alt: true, action: "dispatch", label: "派发工单" },
    { keys: "Alt+J", code: "KeyJ", alt: true, action: "on_call", label: "即办办结" },
    { keys: "Alt+E", code: "KeyE", alt: true, action: "edit", label: "编辑工单" },
    { keys: "/", key: "/", alt: false, action: "search", label: "搜索知识库" },
    { keys: "Alt+R", code: "KeyR", alt: true, action: "ready", label: "就绪" },
    { keys: "Alt+B", code: "KeyB", alt: true, action: "pause", label: "示忙" },
    { keys: "Alt+C", code: "KeyC", alt: true, action: "callbacks", label: "漏接回拨" },
    { keys: "Esc", key: "Escape", alt: false, anywhere: true, action: "leave", label: "离开输入框" },
  ];

  // The action for a keydown, or null. `ev`: {key, code, altKey, ctrlKey, metaKey,
  // shiftKey, inField} (inField: focus is in a text field, where "/" is just a slash;
  // Esc works there too: it leaves the field, so "/" and the rest work again).
  function shortcutFor(ev) {
    if (ev.ctrlKey || ev.metaKey) return null;
    for (const s of SHORTCUTS) {
      if (s.alt) {
        if (ev.altKey && !ev.shiftKey && ev.code === s.code) return s.action;
      } else if (!ev.altKey && (s.anywhere || !ev.inField) && ev.key === s.key) {
        return s.action;
      }
    }
    return null;
  }

  const SPEAKERS = { caller: "市民", operator: "话务员" };

  // Transcript lines: [{id, channel, segment, text, final}], in the order first heard.
  // A partial replaces its segment's text in place; a final fixes it. A late partial for
  // a segment already final is ignored (ephemeral partials may arrive after the final).
  function applyTranscript(lines, type, data) {
    const id = data.channel + "-" + data.segment;
    const final = type === "transcript.final";
    const at = lines.findIndex((l) => l.id === id);
    if (at >= 0 && lines[at].final && !final) return { lines, id: null };
    const line = { id, channel: data.channel, segment: data.segment, text: data.text || "", final };
    const next = lines.slice();
    if (at >= 0) next[at] = line; else next.push(line);
    return { lines: next, id };
  }

  // What the knowledge search is asked while the call goes on: the caller's latest final
  // words (the operator's greeting matches everything), else anyone's; at most `max` chars.
  function recentText(lines, max) {
    const finals = lines.filter((l) => l.final && l.text.trim());
    const caller = finals.filter((l) => l.channel === "caller");
    const said = (caller.length ? caller : finals).map((l) => l.text.trim()).join(" ");
    return said.length > max ? said.slice(said.length - max) : said;
  }

  // The transcript the store kept (a draft's `transcript`: [{speaker, text}]) as lines,
  // for a page opened after the words were said. Their ids cannot meet a live segment's.
  function storedLines(transcript) {
    return transcript.filter((t) => t.text).map((t, i) => ({
      id: "stored-" + i, channel: t.speaker, segment: i, text: t.text, final: true,
    }));
  }

  // Keyword alerts (live `alert.keyword` frames, or the stored ones a reloaded desk reads
  // from GET /api/calls/{id}/alerts) added to the keywords known: each once, first seen
  // first; `last` is the newest alert (the banner names its speaker and action).
  function storedAlerts(keywords, alerts) {
    const merged = keywords.slice();
    for (const a of alerts) if (a.keyword && !merged.includes(a.keyword)) merged.push(a.keyword);
    return { keywords: merged, last: alerts.length ? alerts[alerts.length - 1] : null };
  }

  // `text` cut into [{text, hit}] parts around every keyword (for safe highlighting).
  function highlight(text, keywords) {
    const words = keywords.filter((k) => k);
    const parts = [];
    let i = 0;
    while (i < text.length) {
      let best = -1;
      let word = "";
      for (const k of words) {
        const j = text.indexOf(k, i);
        if (j >= 0 && (best < 0 || j < best || (j === best && k.length > word.length))) {
          best = j;
          word = k;
        }
      }
      if (best < 0) { parts.push({ text: text.slice(i), hit: false }); break; }
      if (best > i) parts.push({ text: text.slice(i, best), hit: false });
      parts.push({ text: word, hit: true });
      i = best + word.length;
    }
    return parts;
  }

  // The fields the operator may have corrected: a newer draft fills only the others.
  const FIELDS = ["kind", "category", "title", "content", "address", "caller_number",
    "caller_name", "time_limit_class"];

  function mergeDraft(current, incoming, edited) {
    const out = Object.assign({}, incoming);
    for (const f of FIELDS) if (edited.has(f) && current && f in current) out[f] = current[f];
    return out;
  }

  // POST /api/orders body. `form`: the order fields as edited; `unit`/`assisting`: unit
  // ids; `onCall`: 即办 with `note`; `another`: a second order for a call that has one.
  function takeBody(order, form, { unit, assisting, onCall, note, another }) {
    const body = { order: Object.assign({}, order, form) };
    if (another) body.another_for_call = true;
    if (onCall) {
      body.on_call = true;
      body.note = note;
      return body;
    }
    body.dispatch = [{ unit_id: unit, role: "lead" }].concat(
      (assisting || []).filter((u) => u && u !== unit)
        .map((u) => ({ unit_id: u, role: "assisting" })));
    return body;
  }

  // Why the one action cannot go yet, and the field to fix ({field, text}; null: it can).
  function blocker(form, { unit, onCall, note }) {
    if (!form.title || !form.title.trim()) return { field: "f-title", text: "请填写工单标题" };
    if (!form.caller_number || !form.caller_number.trim()) {
      return { field: "f-caller-number", text: "请填写来电号码" };
    }
    if (onCall) {
      return note && note.trim() ? null
        : { field: "f-note", text: "即办请填写答复说明或选用知识库条目" };
    }
    return unit ? null : { field: "f-unit", text: "请选择承办单位" };
  }

  // "m:ss" from `nowMs` to the ISO time `until` ("" once it has passed).
  function countdown(until, nowMs) {
    const seconds = Math.ceil((Date.parse(until) - nowMs) / 1000);
    if (!(seconds > 0)) return "";
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  // Whether this desk acts on a WebSocket frame. The hub sends a supervisor every seat's
  // state and pops (the wallboard needs them): the desk takes only its own seat's
  // (`extension`; none yet: none). Everything else is not seat-bound (a transcript is
  // matched against the desk's own call, callback tasks are shared).
  const SEAT_FRAMES = ["operator.state", "operator.pop"];
  function forMySeat(frame, extension) {
    if (!SEAT_FRAMES.includes(frame.type)) return true;
    return !!extension && !!frame.data && frame.data.extension === extension;
  }

  // The order a refused take found on the call (409 order_exists_for_call), else null.
  function existingOrder(error) {
    return error && error.code === "order_exists_for_call" && error.order ? error.order : null;
  }

  // Query strings of the desk's own lists (the server filters; null: not known yet).
  function myCallsPath(extension, n) {
    return extension ? "/api/calls?limit=" + n + "&operator_extension=" + encodeURIComponent(extension) : null;
  }
  function myOrdersPath(username, n) {
    return username ? "/api/orders?limit=" + n + "&operator=" + encodeURIComponent(username) : null;
  }
  function openOrdersPath(number, n) {
    return number ? "/api/orders?open=1&limit=" + n + "&caller_number=" + encodeURIComponent(number) : null;
  }

  const LIGHTS = { green: "绿灯", yellow: "黄灯", red: "红灯" };

  root.DeskModel = {
    SHORTCUTS, SPEAKERS, FIELDS, shortcutFor, applyTranscript, storedLines, storedAlerts, recentText, highlight,
    mergeDraft, takeBody, blocker, countdown, forMySeat, existingOrder, myCallsPath, myOrdersPath,
    openOrdersPath, LIGHTS,
  };
})(window);
