// care-hub video calls in the browser: WebRTC peer connections, signalled through /ws/video.
// Self-contained (no build step, no external resources): the wall screen, the caregiver's phone
// view, the resident's screen (/video/resident) and the family page (/video/family) load it.
// Media flows browser to browser (or through the site's TURN server); the hub never sees it.
//
// Staff pages: <script src="/video/static/video.js" defer></script> and a button with
// data-video-dial; acknowledging a video-capable call alert on the page opens the call.
// API: window.careHubVideo.{start, callResident, openDialer, hangUp, state, stats}.
"use strict";

(() => {
  const TOKEN_KEYS = ["care-hub.video.token", "care-hub.token"];
  const LANG_KEY = "care-hub.lang";
  const RECONNECT_MAX_MS = 15000;
  const TERMINAL = new Set(["declined", "no_answer", "cancelled", "ended"]);

  // ------------------------------------------------------------------ words
  let words = {};
  let fallbackWords = {};
  function language() {
    const asked = new URLSearchParams(location.search).get("lang");
    for (const tag of [asked, localStorage.getItem(LANG_KEY), ...(navigator.languages || [])]) {
      if (!tag) continue;
      if (tag.toLowerCase().startsWith("zh")) return "zh-CN";
      if (tag.toLowerCase().startsWith("en")) return "en";
    }
    return "zh-CN";
  }
  async function loadWords() {
    const get = (l) => fetch(`/locales/${l}.json`).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    const lang = language();
    [words, fallbackWords] = await Promise.all([get(lang), lang === "en" ? Promise.resolve({}) : get("en")]);
  }
  function t(key, params) {
    const text = words[key] ?? fallbackWords[key] ?? key;
    return text.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name) =>
      (params && params[name] != null ? String(params[name]) : m));
  }

  // ------------------------------------------------------------------ session
  function token() {
    if (state.token) return state.token;
    for (const key of TOKEN_KEYS) {
      const v = localStorage.getItem(key) || sessionStorage.getItem(key);
      if (v) return v;
    }
    return null;
  }
  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await nativeFetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw Object.assign(new Error((data && data.detail) || `HTTP ${r.status}`), { status: r.status });
    return data;
  }

  // ------------------------------------------------------------------ state
  const state = {
    mode: "staff", // staff | resident | family
    token: null,
    ws: null,
    peer: null, // this socket's peer id
    userId: null,
    calls: new Map(), // call id -> public call
    current: null, // the call this page is in (or ringing/placing)
    pcs: new Map(), // remote peer id -> RTCPeerConnection
    pendingIce: new Map(), // remote peer id -> [candidate]
    local: null, // MediaStream while in a call, else null
    iceServers: [],
    errors: [],
    log: [],
    lastOutcome: null,
    connected: false,
    onChange: null,
  };

  function send(msg) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
  }

  // ------------------------------------------------------------------ socket
  let backoff = 500;
  async function connect() {
    let url;
    try {
      const { ticket } = await api("/api/video/ws-ticket", { method: "POST" });
      url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/video?ticket=${encodeURIComponent(ticket)}`;
    } catch (e) {
      state.connected = false;
      render();
      if (e.status === 401 || e.status === 403) return; // signed out: nothing to retry
      setTimeout(connect, (backoff = Math.min(backoff * 2, RECONNECT_MAX_MS)));
      return;
    }
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      onMessage(msg).catch((e) => state.errors.push(String(e)));
    };
    ws.onopen = () => { backoff = 500; state.connected = true; render(); };
    ws.onclose = () => {
      state.connected = false;
      state.ws = null;
      render();
      setTimeout(connect, (backoff = Math.min(backoff * 2, RECONNECT_MAX_MS)));
    };
  }

  async function onMessage(msg) {
    state.log.push(msg.type);
    if (msg.type === "hello") {
      state.peer = msg.peer;
      state.userId = msg.user_id;
      for (const call of msg.calls || []) await onCall(call);
    } else if (msg.type === "call") {
      await onCall(msg.call);
    } else if (msg.type === "offer") {
      await onOffer(msg);
    } else if (msg.type === "answer") {
      const pc = state.pcs.get(msg.from);
      if (pc) { await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }); await flushIce(msg.from); }
    } else if (msg.type === "ice") {
      await onIce(msg);
    } else if (msg.type === "error") {
      state.errors.push(`${msg.code}: ${msg.message}`);
    }
    render();
  }

  // ------------------------------------------------------------------ call flow
  const me = (call) => (call.parties || []).find((p) => p.peer === state.peer);
  const isOurs = (call) => state.current && state.current.id === call.id;

  async function onCall(call) {
    state.calls.set(call.id, call);
    if (TERMINAL.has(call.state)) {
      state.calls.delete(call.id);
      if (isOurs(call)) { state.lastOutcome = call.state; teardown(); }
      return;
    }
    if (state.mode === "resident") {
      if (call.state === "ringing" && !state.current) {
        state.current = call;
        if (call.auto_answer) await accept(call.id);
      } else if (call.state === "answered" && isOurs(call) && !me(call)) {
        teardown(); // another screen of this resident took it
      } else if (isOurs(call)) state.current = call;
      return;
    }
    if (state.mode === "family") {
      if (isOurs(call)) { state.current = call; await offerToAll(call); }
      return;
    }
    // staff: a call this socket placed
    if (!isOurs(call)) return;
    state.current = call;
    const callee = (call.parties || []).find((p) => p.role === "resident");
    if (call.state === "answered" && callee && me(call)) {
      await ensureLocal();
      if (!state.pcs.has(callee.peer)) await makeOffer(callee.peer);
    }
  }

  async function ensureLocal() {
    if (state.local) return state.local;
    if (state.current && !state.iceServers.length) {
      try { state.iceServers = (await api(`/api/video/turn?call_id=${state.current.id}`)).iceServers; } catch { /* LAN only */ }
    }
    state.local = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    render();
    return state.local;
  }

  function newPc(remote) {
    const pc = new RTCPeerConnection({ iceServers: state.iceServers });
    for (const track of state.local ? state.local.getTracks() : []) pc.addTrack(track, state.local);
    pc.onicecandidate = (ev) => send({
      type: "ice", call_id: state.current.id, to: remote, candidate: ev.candidate ? ev.candidate.toJSON() : null,
    });
    pc.ontrack = (ev) => showRemote(remote, ev.streams[0] || new MediaStream([ev.track]));
    state.pcs.set(remote, pc);
    return pc;
  }

  async function makeOffer(remote) {
    const pc = newPc(remote);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: "offer", call_id: state.current.id, to: remote, sdp: offer.sdp });
  }

  async function offerToAll(call) {
    if (!me(call)) return;
    await ensureLocal();
    for (const p of call.parties) if (p.peer !== state.peer && !state.pcs.has(p.peer)) await makeOffer(p.peer);
  }

  async function onOffer(msg) {
    if (!state.current || msg.call_id !== state.current.id) return;
    await ensureLocal();
    const pc = state.pcs.get(msg.from) || newPc(msg.from);
    await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    send({ type: "answer", call_id: msg.call_id, to: msg.from, sdp: answer.sdp });
    await flushIce(msg.from);
  }

  async function onIce(msg) {
    const pc = state.pcs.get(msg.from);
    if (!pc || !pc.remoteDescription) {
      const q = state.pendingIce.get(msg.from) || [];
      q.push(msg.candidate);
      state.pendingIce.set(msg.from, q);
      return;
    }
    if (msg.candidate) await pc.addIceCandidate(msg.candidate).catch(() => {});
  }

  async function flushIce(remote) {
    const pc = state.pcs.get(remote);
    for (const c of state.pendingIce.get(remote) || []) if (c) await pc.addIceCandidate(c).catch(() => {});
    state.pendingIce.delete(remote);
  }

  function teardown() {
    for (const pc of state.pcs.values()) pc.close();
    state.pcs.clear();
    state.pendingIce.clear();
    if (state.local) for (const track of state.local.getTracks()) track.stop(); // camera and mic off
    state.local = null;
    state.current = null;
    state.iceServers = [];
    const remotes = overlay && overlay.querySelector(".cv-remotes");
    if (remotes) remotes.textContent = "";
    render();
  }

  async function accept(callId) {
    const call = state.calls.get(callId);
    state.current = call || state.current;
    await ensureLocal(); // ask for the camera before answering, so the caller's offer finds it
    send({ type: "accept", call_id: callId });
  }

  function decline(callId) { send({ type: "decline", call_id: callId }); }

  function hangUp() {
    if (!state.current) return;
    send({ type: "hangup", call_id: state.current.id });
    state.lastOutcome = state.current.state === "answered" ? "ended" : "cancelled";
    teardown();
  }

  async function callResident(residentId, { alertId } = {}) {
    if (state.current) return state.current;
    const body = alertId ? { resident_id: residentId, alert_id: alertId } : { resident_id: residentId };
    const call = await api("/api/video/calls", { method: "POST", body });
    state.current = call;
    state.calls.set(call.id, call);
    send({ type: "attach", call_id: call.id });
    render();
    return call;
  }

  async function join(callId) {
    state.current = state.calls.get(callId) || null;
    send({ type: "join", call_id: callId });
  }

  // ------------------------------------------------------------------ acknowledging opens video
  // Staff pages: a call alert acknowledged from this page (wall or phone) whose button is a video
  // caller (detail.video) opens the call to the resident, without changing the page's own code.
  const nativeFetch = window.fetch.bind(window);
  const ACK = /\/api\/(?:screens\/)?alerts\/\d+\/ack$/;
  function watchAcknowledgements() {
    window.fetch = async (input, init) => {
      const response = await nativeFetch(input, init);
      try {
        const url = typeof input === "string" ? input : input.url;
        const method = ((init && init.method) || (input && input.method) || "GET").toUpperCase();
        if (method === "POST" && ACK.test(new URL(url, location.href).pathname) && response.ok) {
          response.clone().json().then((alert) => {
            if (alert && alert.type === "call" && alert.detail && alert.detail.video && alert.resident_id) {
              callResident(alert.resident_id, { alertId: alert.id }).catch((e) => state.errors.push(String(e)));
            }
          }).catch(() => {});
        }
      } catch { /* never break the page's own request */ }
      return response;
    };
  }

  // ------------------------------------------------------------------ UI
  let overlay = null;
  const el = (tag, cls, text) => {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  };

  function buildOverlay() {
    const style = el("style");
    style.textContent = `
      .cv-overlay{position:fixed;inset:0;background:#101418;color:#fff;z-index:9999;display:none;
        flex-direction:column;align-items:center;justify-content:center;font-family:system-ui,sans-serif}
      .cv-overlay.open{display:flex}
      .cv-title{font-size:2.2rem;margin:.5rem}
      .cv-status{font-size:1.4rem;opacity:.85;margin-bottom:1rem}
      .cv-remotes{display:flex;gap:1rem;flex-wrap:wrap;justify-content:center}
      .cv-remotes video{width:min(70vw,960px);max-height:65vh;background:#000;border-radius:12px}
      .cv-local{position:absolute;right:1.5rem;bottom:1.5rem;width:22vw;max-width:320px;border-radius:10px;
        border:3px solid #e53935;background:#000}
      .cv-live{position:absolute;left:1.5rem;top:1.2rem;background:#e53935;color:#fff;border-radius:999px;
        padding:.4rem 1rem;font-size:1.2rem;font-weight:600}
      .cv-buttons{display:flex;gap:2rem;margin-top:1.5rem}
      .cv-btn{font-size:2rem;min-width:12rem;min-height:5.5rem;border:0;border-radius:18px;color:#fff;cursor:pointer}
      .cv-answer{background:#2e7d32}.cv-decline,.cv-hangup{background:#c62828}.cv-join{background:#1565c0}
      .cv-dialer{position:fixed;inset:10% 20%;background:#fff;color:#111;z-index:9998;border-radius:14px;
        padding:1.2rem;overflow:auto;box-shadow:0 10px 40px #0008}
      .cv-dialer li{display:flex;justify-content:space-between;align-items:center;padding:.5rem 0;border-bottom:1px solid #ddd}
      .cv-dialer button{font-size:1.1rem;padding:.4rem 1rem}`;
    document.head.append(style);
    overlay = el("div", "cv-overlay");
    overlay.id = "video-overlay";
    overlay.setAttribute("role", "dialog");
    overlay.innerHTML = "";
    const live = el("div", "cv-live");
    live.id = "video-live";
    live.hidden = true;
    const local = el("video", "cv-local");
    local.id = "video-local";
    local.muted = true;
    local.autoplay = true;
    local.playsInline = true;
    local.hidden = true;
    const buttons = el("div", "cv-buttons");
    overlay.append(live, el("div", "cv-title"), el("div", "cv-status"), el("div", "cv-remotes"), buttons, local);
    document.body.append(overlay);
  }

  function button(cls, label, fn) {
    const b = el("button", `cv-btn ${cls}`, label);
    b.type = "button";
    b.addEventListener("click", () => { Promise.resolve(fn()).catch((e) => state.errors.push(String(e))); });
    return b;
  }

  function showRemote(remote, stream) {
    const box = overlay.querySelector(".cv-remotes");
    let video = box.querySelector(`video[data-peer="${remote}"]`);
    if (!video) {
      video = el("video");
      video.dataset.peer = remote;
      video.autoplay = true;
      video.playsInline = true;
      box.append(video);
    }
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  }

  function render() {
    if (!overlay) return;
    const call = state.current;
    const title = overlay.querySelector(".cv-title");
    const status = overlay.querySelector(".cv-status");
    const buttons = overlay.querySelector(".cv-buttons");
    const local = overlay.querySelector(".cv-local");
    const live = overlay.querySelector(".cv-live");
    buttons.textContent = "";
    // The indicator shows exactly while this page holds the camera and microphone.
    live.hidden = !state.local;
    live.textContent = t("video.indicator");
    local.hidden = !state.local;
    if (state.local && local.srcObject !== state.local) { local.srcObject = state.local; local.play().catch(() => {}); }
    if (!state.local && local.srcObject) local.srcObject = null;
    document.body.classList.toggle("video-camera-on", !!state.local);
    if (state.mode === "family") renderJoinable();
    if (!call) {
      overlay.classList.toggle("open", state.mode === "resident");
      overlay.dataset.state = "idle";
      if (state.mode === "resident") {
        title.textContent = state.residentName || "";
        status.textContent = state.lastOutcome ? t(`video.outcome.${state.lastOutcome}`) : t("video.waiting");
      }
      return;
    }
    overlay.classList.add("open");
    overlay.dataset.state = call.state;
    if (state.mode === "resident") {
      title.textContent = call.state === "ringing" ? t("video.incoming", { name: call.caller_name }) : call.caller_name;
      if (call.state === "ringing" && !me(call)) {
        status.textContent = t("video.ringing");
        buttons.append(button("cv-answer", t("video.answer"), () => accept(call.id)),
          button("cv-decline", t("video.decline"), () => decline(call.id)));
        return;
      }
    } else {
      title.textContent = t("video.with", { name: call.resident_name });
    }
    status.textContent = call.state === "ringing" ? t("video.calling") : t("video.connected");
    buttons.append(button("cv-hangup", t("video.hang_up"), hangUp));
  }

  // Family page: a list of calls in progress the resident lets them join.
  function renderJoinable() {
    const list = document.getElementById("video-joinable");
    if (!list) return;
    list.textContent = "";
    for (const call of state.calls.values()) {
      if (call.state !== "answered" || isOurs(call)) continue;
      const li = el("li", null, t("video.in_progress", { name: call.resident_name, caller: call.caller_name }));
      li.append(button("cv-join", t("video.join"), () => join(call.id)));
      list.append(li);
    }
    const empty = document.getElementById("video-none");
    if (empty) empty.hidden = list.children.length > 0;
  }

  async function openDialer() {
    const old = document.querySelector(".cv-dialer");
    if (old) { old.remove(); return; }
    const box = el("div", "cv-dialer");
    box.id = "video-dialer";
    box.append(el("h2", null, t("video.dial.title")));
    const list = el("ul");
    box.append(list);
    const close = el("button", null, t("video.close"));
    close.addEventListener("click", () => box.remove());
    box.append(close);
    document.body.append(box);
    const residents = await api("/api/residents");
    for (const r of residents) {
      const li = el("li", null, `${r.name}${r.room ? ` · ${r.room}` : ""}`);
      const b = el("button", "video-call-resident", t("video.dial.call"));
      b.dataset.resident = r.id;
      b.addEventListener("click", () => {
        box.remove();
        callResident(r.id).catch((e) => { state.errors.push(String(e)); alert(`${t("video.failed")} ${e.message}`); });
      });
      li.append(b);
      list.append(li);
    }
  }

  // ------------------------------------------------------------------ start
  async function start({ mode = "staff", token: given = null } = {}) {
    state.mode = mode;
    state.token = given;
    await loadWords();
    buildOverlay();
    if (mode === "staff") {
      watchAcknowledgements();
      for (const b of document.querySelectorAll("[data-video-dial]")) {
        b.textContent = b.textContent || t("video.dial.button");
        b.addEventListener("click", () => openDialer().catch((e) => state.errors.push(String(e))));
      }
    }
    if (mode === "resident") {
      try {
        const who = await api("/api/video/me");
        state.residentName = who.resident ? who.resident.name : "";
      } catch (e) { state.errors.push(String(e)); }
    }
    render();
    if (token()) await connect();
  }

  async function stats() {
    const out = [];
    for (const [peer, pc] of state.pcs) {
      let framesDecoded = 0;
      let framesSent = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") framesDecoded += s.framesDecoded || 0;
        if (s.type === "outbound-rtp" && s.kind === "video") framesSent += s.framesSent || s.framesEncoded || 0;
      });
      out.push({ peer, framesDecoded, framesSent, connectionState: pc.connectionState });
    }
    return out;
  }

  window.careHubVideo = {
    start, callResident, openDialer, hangUp, accept, decline, join, stats, t,
    get state() {
      return {
        mode: state.mode, connected: state.connected, peer: state.peer,
        current: state.current, calls: [...state.calls.values()], cameraOn: !!state.local,
        lastOutcome: state.lastOutcome, errors: [...state.errors], log: [...state.log],
      };
    },
  };

  // Staff pages load the script with data-auto: it starts itself once the page is signed in.
  const me_script = document.currentScript;
  if (me_script && me_script.dataset.auto !== undefined) {
    const go = () => {
      if (token()) start({ mode: me_script.dataset.auto || "staff" });
      else setTimeout(go, 1000);
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
    else go();
  }
})();
