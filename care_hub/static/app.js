// care-hub shared browser helpers: words in zh-CN and English (t), API client, sign-in, live event
// stream, alarm sounds, sparklines, plain-language alert descriptions.
// Plain ES2020, no build step, no external resources: the hub may run on an offline network.
"use strict";

const CareHub = (() => {
  const TOKEN_KEY = "care-hub.token";
  const USER_KEY = "care-hub.user";
  const LANG_KEY = "care-hub.lang";

  // ---------------------------------------------------------------- words (i18n)

  // One catalogue per language, served merged by the hub at /locales/<lang>.json (the same files
  // the server translates with). zh-CN first: the product's users are Chinese care homes.
  const LANGUAGES = { "zh-CN": "中文", en: "English" };
  let catalogue = {};
  let fallback = {};

  // ?lang= wins, then the switch's choice (localStorage), then the browser's languages.
  function pickLanguage() {
    const asked = new URLSearchParams(location.search).get("lang");
    const stored = localStorage.getItem(LANG_KEY);
    for (const tag of [asked, stored, ...(navigator.languages || [navigator.language])]) {
      if (!tag) continue;
      const low = tag.toLowerCase();
      if (low.startsWith("zh")) return "zh-CN";
      if (low.startsWith("en")) return "en";
    }
    return "zh-CN";
  }
  let lang = pickLanguage();

  async function loadWords() {
    const get = (l) => fetch(`/locales/${l}.json`).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    [catalogue, fallback] = await Promise.all([get(lang), lang === "en" ? Promise.resolve(null) : get("en")]);
    fallback = fallback || catalogue;
    document.documentElement.lang = lang;
    translatePage(document);
  }

  // t("wall.room", {room: "101"}): the text in the page's language, English if missing, else the key.
  function t(key, params) {
    const text = catalogue[key] ?? fallback[key] ?? key;
    return text.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name) =>
      (params && params[name] !== undefined && params[name] !== null ? String(params[name]) : m));
  }
  const has = (key) => key in catalogue || key in fallback;

  // Static markup says what it needs: data-i18n (text), data-i18n-placeholder, -title, -aria-label.
  function translatePage(root) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const attr of ["placeholder", "title", "aria-label"]) {
      const data = `i18n${attr.replace(/(^|-)(\w)/g, (m, d, c) => c.toUpperCase())}`;
      for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) node.setAttribute(attr, t(node.dataset[data]));
    }
    const title = document.querySelector("title[data-i18n]");
    if (title) document.title = t(title.dataset.i18n);
  }

  // A <select> that switches language; the choice is kept, and ?lang= dropped so it holds.
  function languageSwitch() {
    const select = document.createElement("select");
    select.className = "lang-switch";
    select.setAttribute("aria-label", "语言 / Language");
    for (const [code, name] of Object.entries(LANGUAGES)) {
      const o = document.createElement("option");
      o.value = code;
      o.textContent = name;
      o.selected = code === lang;
      select.append(o);
    }
    select.addEventListener("change", () => {
      localStorage.setItem(LANG_KEY, select.value);
      const url = new URL(location.href);
      url.searchParams.delete("lang");
      location.replace(url.toString());
    });
    return select;
  }

  // ---------------------------------------------------------------- session and API

  // A wall-screen (kiosk) token lives in localStorage so the TV comes back signed in after a
  // reboot; a person's sign-in lives in this tab only (sessionStorage).
  const session = {
    get store() { return localStorage.getItem(TOKEN_KEY) ? localStorage : sessionStorage; },
    get token() { return this.store.getItem(TOKEN_KEY); },
    get user() {
      try { return JSON.parse(this.store.getItem(USER_KEY) || "null"); } catch { return null; }
    },
    get isScreen() { return !!localStorage.getItem(TOKEN_KEY); },
    save(token, user, { kiosk = false } = {}) {
      const store = kiosk ? localStorage : sessionStorage;
      store.setItem(TOKEN_KEY, token);
      store.setItem(USER_KEY, JSON.stringify(user));
    },
    clear() {
      for (const store of [sessionStorage, localStorage]) {
        store.removeItem(TOKEN_KEY);
        store.removeItem(USER_KEY);
      }
    },
  };

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : `request failed (${status})`);
      this.status = status;
      this.detail = detail;
    }
  }

  // Called when the server says our token is no longer good (expired, revoked).
  let onUnauthorized = () => {};

  // Build a query string; array values become repeated keys (state=open&state=acknowledged).
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
    }
    const s = q.toString();
    return s ? `?${s}` : "";
  }

  async function api(path, { method = "GET", body, params } = {}) {
    const headers = { Accept: "application/json" };
    if (session.token) headers.Authorization = `Bearer ${session.token}`;
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(path + query(params), { method, headers, body: payload });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const detail = data && data.detail !== undefined ? data.detail : res.statusText;
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return data;
  }

  async function login(username, password) {
    const form = new URLSearchParams({ username, password });
    const res = await fetch("/api/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form,
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : t("ui.signin.failed");
      throw new ApiError(res.status, res.status === 401 ? t("ui.signin.wrong") : detail);
    }
    session.save(data.access_token, {
      id: data.user_id, name: data.name, role: data.role,
    });
    return data;
  }

  // ---------------------------------------------------------------- DOM and formatting

  // el("div", {class: "x", onclick: fn}, "text", child, [more children])
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    appendAll(node, children);
    return node;
  }
  function appendAll(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  const pad2 = (n) => String(n).padStart(2, "0");
  // Times are shown in the care home's time zone (the facility's `timezone`), not the viewer's:
  // a relative abroad reads "14:05" as the staff do. Pages set it once they know the facility.
  let timeZone;
  function setTimeZone(tz) {
    try { new Intl.DateTimeFormat("en", { timeZone: tz }); timeZone = tz; } catch { timeZone = undefined; }
  }
  const fmtCache = new Map();
  function formatter(kind) {
    const key = `${kind}|${lang}|${timeZone}`;
    if (!fmtCache.has(key)) {
      const opts = kind === "time" ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
        : kind === "day" ? { year: "numeric", month: "2-digit", day: "2-digit" }
          : { month: "short", day: "numeric", weekday: "short" };
      fmtCache.set(key, new Intl.DateTimeFormat(lang, { ...opts, timeZone }));
    }
    return fmtCache.get(key);
  }
  function fmtTime(ts) {
    if (ts === null || ts === undefined) return "";
    return formatter("time").format(new Date(ts * 1000));
  }
  const dayOf = (ts) => formatter("day").format(new Date(ts * 1000));
  function fmtDateTime(ts) {
    if (ts === null || ts === undefined) return "";
    const sameDay = dayOf(ts) === dayOf(Date.now() / 1000);
    const day = sameDay ? t("ui.today") : formatter("date").format(new Date(ts * 1000));
    return `${day} ${fmtTime(ts)}`;
  }
  // Local midnight of today in the care home's zone (epoch s): the family's "today".
  function localMidnight(ts) {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en", {
      timeZone, hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ts * 1000)).map((p) => [p.type, p.value]));
    const since = Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second);
    return Math.floor(ts) - since;
  }
  // Ticking age counter: "0:42", "12:05", "1 h 03 min".
  function fmtAge(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 3600) return `${Math.floor(s / 60)}:${pad2(s % 60)}`;
    const h = Math.floor(s / 3600);
    if (h < 48) return t("ui.age.hours", { h, m: pad2(Math.floor((s % 3600) / 60)) });
    return t("ui.age.days", { d: Math.floor(h / 24) });
  }
  function fmtDuration(seconds) {
    const m = Math.round(Math.max(0, seconds) / 60);
    return m < 60 ? t("ui.duration.min", { m }) : t("ui.duration.hours", { h: Math.floor(m / 60), m: pad2(m % 60) });
  }
  const now = () => Date.now() / 1000;

  // ---------------------------------------------------------------- alerts

  // Labels come from the catalogue (core.json: alert.type.*, family.alert.*).
  const alertLabel = (a) => (has(`alert.type.${a.type}`) ? t(`alert.type.${a.type}`) : String(a.type).replace(/_/g, " "));
  const familyLabel = (a) => (has(`family.alert.${a.type}`) ? t(`family.alert.${a.type}`) : alertLabel(a));
  // What kind of event it is, for colour and tone: a call, a fall, a vital sign, a device fault.
  const ALERT_CATEGORY = {
    call: "call", fall: "fall", vitals: "vitals", apnea: "vitals", inactivity: "activity",
    bed_exit: "activity", device_offline: "device", battery_low: "device", ingest_stalled: "device",
  };
  const categoryOf = (a) => ALERT_CATEGORY[a.type] || "device";
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const PRIORITY_RANK = { high: 0, medium: 1, low: 2 };
  const STATE_RANK = { open: 0, acknowledged: 1, resolved: 2 };


  // IEC 60601-1-8 priority; the server sends it, older servers only send severity.
  function priorityOf(a) {
    if (a.priority in PRIORITY_RANK) return a.priority;
    return { critical: "high", high: "medium", medium: "medium", low: "low" }[a.severity] || "medium";
  }

  // Open before acknowledged; then most severe; then oldest (it has waited longest).
  function compareAlerts(a, b) {
    return (STATE_RANK[a.state] - STATE_RANK[b.state])
      || ((SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9))
      || (a.raised_at - b.raised_at);
  }

  // A snapshot and the live stream can deliver the same alert in either order: keep the newer.
  function newerAlert(old, incoming) {
    if (!old) return incoming;
    const rank = (a) => [STATE_RANK[a.state] ?? 0, a.count || 0, a.last_seen_at || 0];
    const [o, n] = [rank(old), rank(incoming)];
    for (let i = 0; i < o.length; i++) {
      if (n[i] !== o[i]) return n[i] > o[i] ? incoming : old;
    }
    return incoming;
  }

  // Why an alert was raised, in plain words for the person who must act (never rule ids,
  // scores or device ids). Reads the detail the hub stores; unknown shapes get a neutral line.
  const num = (v, digits = 0) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : null);
  function kitValue(d, kind, name) {
    if (d.values && d.kit_kind === kind && typeof d.values[name] === "number") return d.values[name];
    const r = (d.readings || []).find((x) => (x.kind === kind || x.kind === `${kind}.${name}`) && (x.name === name || !x.name));
    return r ? r.value : null;
  }
  function describeAlert(a) {
    const d = (a && a.detail && typeof a.detail === "object") ? a.detail : {};
    const rule = String(d.rule || "");
    switch (a.type) {
      case "fall": {
        if (d.kind === "floor_dwell") return t("reason.fall.floor_dwell");
        // What the radar saw (issue 13: the alert says why), where it is plausible: a drop of at
        // least 0.2 m, a descent of at most 10 s (longer is not one movement); else time down only.
        const down = num(d.down_s);
        const drop = typeof d.drop_m === "number" && d.drop_m >= 0.2 ? num(d.drop_m, 1) : null;
        const descent = typeof d.descent_s === "number" && d.descent_s > 0 && d.descent_s <= 10 ? num(d.descent_s, 1) : null;
        if (down && drop && descent) return t("reason.fall.seen", { drop, descent, s: down });
        if (down && drop) return t("reason.fall.seen_drop", { drop, s: down });
        return down ? t("reason.fall.confirmed_down", { s: down }) : t("reason.fall.confirmed");
      }
      case "call":
        return a.count > 1 ? t("reason.call.again", { n: a.count }) : t("reason.call.pressed");
      case "apnea":
        return num(d.duration_s) ? t("reason.apnea.seconds", { s: num(d.duration_s) }) : t("reason.apnea");
      case "bed_exit":
        return t("reason.bed_exit", { time: fmtTime(d.since_ts || a.raised_at) });
      case "inactivity": {
        const key = `reason.inactivity.${d.reason}`;
        return has(key) ? t(key, { time: fmtTime(d.since_ts || a.raised_at) }) : t("reason.inactivity");
      }
      case "battery_low":
        return num(d.battery) ? t("reason.battery_low.pct", { pct: Math.round(d.battery * 100) }) : t("reason.battery_low");
      case "device_offline": {
        if (d.reason === "mass_silence") return t("reason.device_offline.many", { n: d.devices || "?" });
        const what = has(`device.type.${d.device_type}`) ? t(`device.type.${d.device_type}`) : t("device.type.other");
        return t(d.lives_alone ? "reason.device_offline.alone" : "reason.device_offline", { device: what });
      }
      case "ingest_stalled":
        return t("system.ingest_stalled.banner");
      case "vitals": {
        if (d.source === "radar" && d.parameter) {
          const key = `reason.radar.${d.parameter}`;
          return t(has(key) ? key : "reason.radar", { value: num(d.value) ?? "?" });
        }
        const glucose = kitValue(d, "glucose", "mmol_l");
        if (rule.startsWith("glucose.")) return t(`reason.${rule}`, { value: num(glucose, 1) ?? "?" });
        if (rule === "bp.hypertensive_crisis") {
          return t("reason.bp.crisis", {
            sys: num(kitValue(d, "blood_pressure", "systolic")) ?? "?",
            dia: num(kitValue(d, "blood_pressure", "diastolic")) ?? "?",
          });
        }
        if (rule.startsWith("news2.")) {
          const total = d.news2 && Number.isInteger(d.news2.total) ? d.news2.total : num(d.score);
          return t(`reason.news2.${rule.slice(6)}`, { score: total ?? "?" });
        }
        if (rule.startsWith("baseline:")) return t("reason.baseline");
        return t("reason.vitals");
      }
      default:
        return "";
    }
  }
  // Who acknowledged, in words: a person's name, "staff in the room" (the button's presence key).
  function acknowledger(a, names) {
    if (!a.acknowledged_by) return t("ui.ack.someone");
    if (a.device_id && a.acknowledged_by === a.device_id) return t("ui.ack.in_room");
    return (names && names.get(a.acknowledged_by)) || a.acknowledged_by;
  }

  // ---------------------------------------------------------------- live events

  // Websocket client that never misses an event: remembers the last seq it saw and reconnects
  // with since=<seq> after a drop, backing off 1 s, 2 s, 4 s ... up to 30 s (with jitter so a
  // whole floor of screens does not reconnect in the same instant after a hub restart).
  class EventStream {
    // params: extra query (floor, wing, mine); maxBackoffMs: a wall screen retries often.
    constructor({ onEvent, onStatus, onResync, params, maxBackoffMs = 30000 }) {
      this.onEvent = onEvent;
      this.onStatus = onStatus || (() => {});
      this.onResync = onResync || (() => {});
      this.params = params || {};
      this.maxBackoffMs = maxBackoffMs;
      this.lastSeq = null;
      this.attempt = 0;
      this.ws = null;
      this.timer = null;
      this.watchdog = null;
      this.stopped = true;
      this.lastMessageAt = 0;
      this.useTickets = true; // one-time tickets when the hub offers them, else ?token=
    }
    start() {
      this.stopped = false;
      this.connect();
    }
    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      clearInterval(this.watchdog);
      if (this.ws) this.ws.close(1000);
      this.ws = null;
    }
    // A short-lived one-time ticket keeps the long-lived token out of URLs and proxy logs; a hub
    // without POST /api/auth/ws-ticket takes the token itself (PROTOCOL.md).
    async credentials() {
      if (this.useTickets) {
        try {
          const data = await api("/api/auth/ws-ticket", { method: "POST" });
          if (data && data.ticket) return { ticket: data.ticket };
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) throw err;
          if (err instanceof ApiError && (err.status === 404 || err.status === 405)) this.useTickets = false;
          else if (!(err instanceof ApiError)) throw err; // network down: retry later
        }
      }
      return { token: session.token };
    }
    url(creds) {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const params = { ...creds, ...this.params };
      if (this.lastSeq !== null) params.since = this.lastSeq;
      return `${proto}//${location.host}/ws/events${query(params)}`;
    }
    async connect() {
      if (this.stopped) return;
      this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
      let ws;
      try {
        ws = new WebSocket(this.url(await this.credentials()));
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) { this.onStatus("offline"); return; }
        this.scheduleReconnect();
        return;
      }
      if (this.stopped) { ws.close(1000); return; }
      this.ws = ws;
      let opened = false;
      ws.onopen = () => { opened = true; this.lastMessageAt = Date.now(); };
      ws.onmessage = (msg) => this.handle(msg.data);
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearInterval(this.watchdog);
        // 4401/4403 or 1008 (policy): the token is refused; reconnecting will not help.
        if ([1008, 4001, 4401, 4403].includes(ev.code)) {
          this.onStatus("offline");
          onUnauthorized();
          return;
        }
        // A refused token closes the handshake, which browsers report only as 1006: ask the
        // API whether we are still signed in (a 401 there signs us out and stops the stream).
        if (!opened) api("/api/me").catch(() => {});
        this.scheduleReconnect();
      };
      ws.onerror = () => {}; // onclose follows and reconnects
      // The server pings every 15 s: 40 s of silence means a dead link (a sleeping laptop, a cut
      // cable that sent no close).
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => {
        if (this.sawPing && Date.now() - this.lastMessageAt > 40000 && this.ws === ws) {
          this.ws = null;
          ws.close(4000);
          this.scheduleReconnect();
        }
      }, 5000);
    }
    scheduleReconnect() {
      if (this.stopped) return;
      this.onStatus("reconnecting");
      const base = Math.min(this.maxBackoffMs, 1000 * 2 ** this.attempt);
      this.attempt += 1;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), base * (0.75 + Math.random() * 0.5));
    }
    handle(text) {
      this.lastMessageAt = Date.now();
      let msg;
      try { msg = JSON.parse(text); } catch { return; }
      if (!msg || typeof msg !== "object") return;
      if (msg.type === "hello") {
        const serverSeq = msg.data && Number.isInteger(msg.data.last_seq) ? msg.data.last_seq : null;
        const first = this.attempt === 0 && this.lastSeq === null;
        // A server whose sequence went backwards was reset: our since means nothing to it.
        const reset = serverSeq !== null && this.lastSeq !== null && serverSeq < this.lastSeq;
        if (this.lastSeq === null || reset) this.lastSeq = serverSeq;
        this.attempt = 0;
        this.onStatus("live");
        // First connection, or the server lost our place: reload the full picture.
        this.onResync(first ? "initial" : reset ? "reset" : "reconnect");
        return;
      }
      if (msg.type === "ping") { this.sawPing = true; return; }
      if (msg.type === "system.health") {
        // A live notice from the hub itself (not in the event log): its seq is the last one sent.
        try { this.onEvent(msg); } catch (err) { console.error("event handler failed", err); }
        return;
      }
      if (Number.isInteger(msg.seq)) {
        if (this.lastSeq !== null && msg.seq <= this.lastSeq) return; // replayed twice
        this.lastSeq = msg.seq;
      }
      try { this.onEvent(msg); } catch (err) { console.error("event handler failed", err); }
    }
  }

  // ---------------------------------------------------------------- alarm sound

  // IEC 60601-1-8 style patterns made with WebAudio (no sound files needed). The priority sets
  // the rhythm: high, a burst of 10 pulses (3 + 2, twice) every 10 s; medium, 3 pulses every 25 s;
  // low, 1 pulse, once. The kind of alert sets the pitches, like the standard's category melodies,
  // so staff tell a fall from a call by ear: a fall falls in pitch, a call alternates two tones,
  // vital signs rise, a device fault stays on one low pitch.
  // Pulse times are offsets in seconds from the start of the burst.
  const PATTERNS = {
    high: { pulse: 0.15, every: 10, times: [0, 0.25, 0.5, 1.0, 1.25, 2.2, 2.45, 2.7, 3.2, 3.45] },
    medium: { pulse: 0.2, every: 25, times: [0, 0.4, 0.8] },
    low: { pulse: 0.25, every: 0, times: [0] },
  };
  const MELODIES = {
    fall: [988, 784, 659, 523, 440],
    call: [784, 587, 784, 587, 784],
    vitals: [523, 659, 784, 659, 784],
    activity: [659, 659, 784, 659, 659],
    device: [440, 440, 440, 440, 440],
    link: [880, 440, 880, 440, 880], // this screen lost the hub or its sign-in
  };
  const ARMED_KEY = "care-hub.sound-armed";

  class Alarm {
    constructor() {
      this.ctx = null;
      this.wave = null;
      this.volume = 0.35;
      this.played = []; // what was sounded, newest last (the screen's self-check and tests read it)
    }
    get enabled() { return !!this.ctx && this.ctx.state === "running"; }
    // Armed once on this screen (a click at installation); kept across reloads and reboots.
    get armed() { return localStorage.getItem(ARMED_KEY) === "1"; }
    // Inside a user gesture this always works; outside one only where the browser's autoplay
    // policy allows it (a kiosk started with --autoplay-policy=no-user-gesture-required).
    async enable({ arm = true } = {}) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return false;
      if (!this.ctx) this.ctx = new Ctx();
      if (this.ctx.state !== "running") {
        // resume() does not settle while autoplay is blocked: do not wait on it for ever.
        await Promise.race([this.ctx.resume().catch(() => {}), new Promise((r) => setTimeout(r, 300))]);
      }
      if (!this.wave) {
        // A fundamental plus four harmonics: IEC asks for at least four so the tone can be
        // located and heard by people with some high-frequency hearing loss.
        const real = new Float32Array([0, 0, 0, 0, 0, 0]);
        const imag = new Float32Array([0, 1, 0.5, 0.33, 0.25, 0.2]);
        this.wave = this.ctx.createPeriodicWave(real, imag);
      }
      if (arm && this.enabled) localStorage.setItem(ARMED_KEY, "1");
      return this.enabled;
    }
    play(priority, category = "device") {
      this.played.push({ priority, category, at: Date.now(), audible: this.enabled });
      if (this.played.length > 200) this.played.shift();
      if (!this.enabled) return false;
      const p = PATTERNS[priority] || PATTERNS.medium;
      const melody = MELODIES[category] || MELODIES.device;
      const t0 = this.ctx.currentTime + 0.05;
      p.times.forEach((offset, i) => this.pulse(t0 + offset, melody[i % melody.length], p.pulse));
      return true;
    }
    pulse(at, freq, length) {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.setPeriodicWave(this.wave);
      osc.frequency.value = freq;
      // 20 ms ramps: no clicks, and IEC wants a defined rise and fall time.
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(this.volume, at + 0.02);
      gain.gain.setValueAtTime(this.volume, at + length - 0.02);
      gain.gain.linearRampToValueAtTime(0, at + length);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(at);
      osc.stop(at + length + 0.01);
    }
  }

  // ---------------------------------------------------------------- sparklines

  // A small inline SVG line chart. series: [{points: [[ts, value], ...], cls}], band: [lo, hi].
  function sparkline(series, { width = 280, height = 64, band = null, label = "" } = {}) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "sparkline");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const all = series.flatMap((s) => s.points);
    if (all.length === 0) return svg;
    const xs = all.map((p) => p[0]);
    let ys = all.map((p) => p[1]);
    if (band) ys = ys.concat(band.filter((v) => Number.isFinite(v)));
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= 1; y1 += 1; }
    const padY = (y1 - y0) * 0.1;
    y0 -= padY; y1 += padY;
    const m = 4;
    const sx = (x) => m + ((x - x0) / (x1 - x0)) * (width - 2 * m);
    const sy = (y) => height - m - ((y - y0) / (y1 - y0)) * (height - 2 * m);
    if (band && Number.isFinite(band[0]) && Number.isFinite(band[1])) {
      const r = document.createElementNS(NS, "rect");
      r.setAttribute("x", 0);
      r.setAttribute("width", width);
      r.setAttribute("y", sy(band[1]));
      r.setAttribute("height", Math.max(0, sy(band[0]) - sy(band[1])));
      r.setAttribute("class", "band");
      svg.append(r);
    }
    for (const s of series) {
      if (s.points.length === 0) continue;
      const line = document.createElementNS(NS, "polyline");
      line.setAttribute("points", s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "));
      line.setAttribute("class", `line ${s.cls || ""}`);
      svg.append(line);
      const [lx, ly] = s.points[s.points.length - 1];
      const dot = document.createElementNS(NS, "circle");
      dot.setAttribute("cx", sx(lx));
      dot.setAttribute("cy", sy(ly));
      dot.setAttribute("r", 3.5);
      dot.setAttribute("class", `dot ${s.cls || ""}`);
      svg.append(dot);
    }
    return svg;
  }

  // ---------------------------------------------------------------- sign-in screen

  // Wires a <form> with username/password inputs and an error element. Calls onSignedIn(user)
  // now if a token is already stored in this tab, else after a successful sign-in. The
  // submit handler runs inside the click, so it may also unlock audio (onGesture).
  function setupLogin({ form, error, onSignedIn, onGesture, allowedRoles, resume = true }) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (onGesture) onGesture();
      const btn = form.querySelector("button[type=submit]");
      error.textContent = "";
      btn.disabled = true;
      try {
        const data = await login(form.username.value.trim(), form.password.value);
        if (allowedRoles && !allowedRoles.includes(data.role)) {
          session.clear();
          throw new ApiError(403, t("ui.signin.wrong_role"));
        }
        form.password.value = "";
        onSignedIn(session.user);
      } catch (err) {
        error.textContent = err instanceof ApiError ? err.message : t("ui.unreachable");
      } finally {
        btn.disabled = false;
      }
    });
    if (resume && session.token) onSignedIn(session.user);
  }

  return {
    session, api, login, ApiError, query, el, appendAll, fmtTime, fmtDateTime, fmtAge, now,
    SEVERITY_RANK, alertLabel, familyLabel, categoryOf, describeAlert, acknowledger, priorityOf,
    compareAlerts, newerAlert, EventStream, Alarm, PATTERNS, sparkline, setupLogin,
    t, has, loadWords, translatePage, languageSwitch, setTimeZone, fmtDuration, localMidnight,
    get lang() { return lang; },
    get timeZone() { return timeZone; },
    set onUnauthorized(fn) { onUnauthorized = fn; },
  };
})();
