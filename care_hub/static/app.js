// care-hub shared browser helpers: API client, sign-in, live event stream, alarm sounds, sparklines.
// Plain ES2020, no build step, no external resources: the hub may run on an offline network.
"use strict";

const CareHub = (() => {
  const TOKEN_KEY = "care-hub.token";
  const USER_KEY = "care-hub.user";

  // ---------------------------------------------------------------- session and API

  const session = {
    get token() { return sessionStorage.getItem(TOKEN_KEY); },
    get user() {
      try { return JSON.parse(sessionStorage.getItem(USER_KEY) || "null"); } catch { return null; }
    },
    save(token, user) {
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(USER_KEY, JSON.stringify(user));
    },
    clear() {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(USER_KEY);
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
      const detail = data && typeof data.detail === "string" ? data.detail : "Sign-in failed";
      throw new ApiError(res.status, res.status === 401 ? "Wrong user name or password" : detail);
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
  function fmtTime(ts) {
    if (ts === null || ts === undefined) return "";
    const d = new Date(ts * 1000);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  }
  function fmtDateTime(ts) {
    if (ts === null || ts === undefined) return "";
    const d = new Date(ts * 1000);
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    const day = sameDay ? "today" : d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
    return `${day} ${fmtTime(ts)}`;
  }
  // Ticking age counter: "0:42", "12:05", "1 h 03 min".
  function fmtAge(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 3600) return `${Math.floor(s / 60)}:${pad2(s % 60)}`;
    const h = Math.floor(s / 3600);
    if (h < 48) return `${h} h ${pad2(Math.floor((s % 3600) / 60))} min`;
    return `${Math.floor(h / 24)} days`;
  }
  const now = () => Date.now() / 1000;

  // ---------------------------------------------------------------- alerts

  const ALERT_LABELS = {
    fall: "Fall", call: "Call", vitals: "Vital signs", apnea: "Breathing pause",
    inactivity: "No activity", bed_exit: "Out of bed", device_offline: "Device offline",
    battery_low: "Battery low", ingest_stalled: "Hub not receiving devices",
  };
  // Words for relatives: plain, calm, no jargon.
  const FAMILY_LABELS = {
    fall: "A possible fall was detected", call: "Asked for help with the call button",
    vitals: "A health reading needs attention", apnea: "A pause in breathing was detected",
    inactivity: "No movement for a while", bed_exit: "Got out of bed", device_offline: "A sensor is offline",
    battery_low: "A sensor battery is low", ingest_stalled: "The care home's system is not receiving sensors",
  };
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const PRIORITY_RANK = { high: 0, medium: 1, low: 2 };
  const STATE_RANK = { open: 0, acknowledged: 1, resolved: 2 };

  const alertLabel = (a) => ALERT_LABELS[a.type] || String(a.type).replace(/_/g, " ");

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

  // A short human summary of an alert's detail object (at most three plain fields).
  function detailSummary(detail) {
    if (!detail || typeof detail !== "object") return "";
    const parts = [];
    for (const [k, v] of Object.entries(detail)) {
      // Ids and timestamps mean nothing to someone at the station.
      if (v === null || typeof v === "object" || /(^|_)(id|ts|at|seq)$/.test(k)) continue;
      const value = typeof v === "number" ? (Number.isInteger(v) ? v : v.toFixed(1)) : v;
      parts.push(`${k.replace(/_/g, " ")} ${value}`);
      if (parts.length === 3) break;
    }
    return parts.join(" · ");
  }

  // ---------------------------------------------------------------- live events

  // Websocket client that never misses an event: remembers the last seq it saw and reconnects
  // with since=<seq> after a drop, backing off 1 s, 2 s, 4 s ... up to 30 s (with jitter so a
  // whole floor of screens does not reconnect in the same instant after a hub restart).
  class EventStream {
    constructor({ onEvent, onStatus, onResync }) {
      this.onEvent = onEvent;
      this.onStatus = onStatus || (() => {});
      this.onResync = onResync || (() => {});
      this.lastSeq = null;
      this.attempt = 0;
      this.ws = null;
      this.timer = null;
      this.watchdog = null;
      this.stopped = true;
      this.lastMessageAt = 0;
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
    url() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const params = { token: session.token };
      if (this.lastSeq !== null) params.since = this.lastSeq;
      return `${proto}//${location.host}/ws/events${query(params)}`;
    }
    connect() {
      if (this.stopped) return;
      this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
      let ws;
      try {
        ws = new WebSocket(this.url());
      } catch (err) {
        this.scheduleReconnect();
        return;
      }
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
      // If the server pings, a silent minute means a dead link (e.g. a sleeping laptop).
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => {
        if (this.sawPing && Date.now() - this.lastMessageAt > 75000 && this.ws === ws) ws.close(4000);
      }, 5000);
    }
    scheduleReconnect() {
      if (this.stopped) return;
      this.onStatus("reconnecting");
      const base = Math.min(30000, 1000 * 2 ** this.attempt);
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
      if (Number.isInteger(msg.seq)) {
        if (this.lastSeq !== null && msg.seq <= this.lastSeq) return; // replayed twice
        this.lastSeq = msg.seq;
      }
      try { this.onEvent(msg); } catch (err) { console.error("event handler failed", err); }
    }
  }

  // ---------------------------------------------------------------- alarm sound

  // IEC 60601-1-8 style patterns made with WebAudio (no sound files needed):
  // high: a burst of 5 pulses (3 + 2) played twice, repeated every 10 s;
  // medium: 3 pulses, repeated every 25 s; low: 1 pulse, once.
  // Pulse times are offsets in seconds from the start of the burst.
  const PATTERNS = {
    high: { freq: 880, pulse: 0.15, every: 10, times: [0, 0.25, 0.5, 1.0, 1.25, 2.2, 2.45, 2.7, 3.2, 3.45] },
    medium: { freq: 660, pulse: 0.2, every: 25, times: [0, 0.4, 0.8] },
    low: { freq: 520, pulse: 0.25, every: 0, times: [0] },
  };

  class Alarm {
    constructor() {
      this.ctx = null;
      this.wave = null;
      this.volume = 0.35;
    }
    get enabled() { return !!this.ctx && this.ctx.state === "running"; }
    // Must run inside a user gesture (click), or the browser keeps audio muted.
    async enable() {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return false;
      if (!this.ctx) this.ctx = new Ctx();
      if (this.ctx.state !== "running") await this.ctx.resume().catch(() => {});
      if (!this.wave) {
        // A fundamental plus four harmonics: IEC asks for at least four so the tone can be
        // located and heard by people with some high-frequency hearing loss.
        const real = new Float32Array([0, 0, 0, 0, 0, 0]);
        const imag = new Float32Array([0, 1, 0.5, 0.33, 0.25, 0.2]);
        this.wave = this.ctx.createPeriodicWave(real, imag);
      }
      return this.enabled;
    }
    play(priority) {
      if (!this.enabled) return false;
      const p = PATTERNS[priority] || PATTERNS.medium;
      const t0 = this.ctx.currentTime + 0.05;
      for (const offset of p.times) this.pulse(t0 + offset, p.freq, p.pulse);
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
  function setupLogin({ form, error, onSignedIn, onGesture, allowedRoles }) {
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
          throw new ApiError(403, "This account cannot use this screen");
        }
        form.password.value = "";
        onSignedIn(session.user);
      } catch (err) {
        error.textContent = err instanceof ApiError ? err.message : "Cannot reach the hub";
      } finally {
        btn.disabled = false;
      }
    });
    if (session.token) onSignedIn(session.user);
  }

  return {
    session, api, login, ApiError, query, el, appendAll, fmtTime, fmtDateTime, fmtAge, now,
    ALERT_LABELS, FAMILY_LABELS, SEVERITY_RANK, alertLabel, priorityOf, compareAlerts,
    newerAlert, detailSummary, EventStream, Alarm, PATTERNS, sparkline, setupLogin,
    set onUnauthorized(fn) { onUnauthorized = fn; },
  };
})();
