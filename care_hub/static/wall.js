// The nursing-station wall screen (a TV on a floor, kiosk) and the caregiver's phone view (/phone).
// It must never go silent unnoticed: a lost link (> 10 s) or a refused sign-in is a full-screen
// alarm with sound; sound stays armed across reloads; blocked audio is a loud warning.
"use strict";
(() => {
  const { api, el, session, t, fmtAge, fmtTime, alertLabel, categoryOf, describeAlert, acknowledger,
          priorityOf, compareAlerts, newerAlert, EventStream, Alarm, PATTERNS, ApiError } = CareHub;
  const $ = (id) => document.getElementById(id);

  // Seconds without a live link before the whole screen alarms (issue 15: > 10 s).
  const LINK_ALARM_AFTER_S = 10;
  // How often the screen asks the hub whether its sign-in still holds (expiry, revocation).
  const SESSION_CHECK_MS = 15000;
  const ROSTER_MAX_AGE_MS = 60000;

  const params = new URLSearchParams(location.search);
  const floors = (params.getAll("floor").join(",") || "").split(",").map((f) => f.trim()).filter(Boolean);
  const wings = (params.getAll("wing").join(",") || "").split(",").map((w) => w.trim()).filter(Boolean);
  const phone = location.pathname.startsWith("/phone") || params.get("view") === "phone";
  if (phone) document.body.classList.add("phone");

  const state = {
    me: null,
    residents: new Map(),   // id -> resident (of this floor)
    alerts: new Map(),      // id -> alert (open or acknowledged only)
    presence: new Map(),    // resident id -> latest stay {zone, entered_at, left_at}
    reminders: new Map(),   // alert id -> reminders heard from the hub
    announced: new Set(),   // alert ids already sounded on arrival
    missed: new Set(),      // alert ids that arrived while the link was down
    nextReminder: { high: 0, medium: 0 },
    stream: null,
    downSince: null,        // when the live link was lost (epoch s), null while live
    wasDown: false,
    linkAlarm: null,        // null | "connection" | "signed_out"
    nextLinkTone: 0,
    roster: null,
    rosterAt: 0,
  };
  const alarm = new Alarm();
  window.careHubWall = { state, alarm }; // for the screen's own diagnostics and browser tests

  // ------------------------------------------------------------ kiosk set-up and sign-in

  // An admin's screen link: /wall?floor=2#screen=<token>. Kept in localStorage, removed from the URL.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("screen")) {
    session.save(hash.get("screen"), { role: "screen" }, { kiosk: true });
    history.replaceState(null, "", location.pathname + location.search);
  }

  function showLogin() {
    if (state.stream) state.stream.stop();
    state.stream = null;
    $("app").hidden = true;
    $("login").hidden = false;
  }

  // The hub refused our sign-in. A screen never drops to a silent login form: it alarms until
  // someone fixes it. A person's session alarms too, with a button to sign in again.
  CareHub.onUnauthorized = () => {
    if (state.stream) state.stream.stop();
    state.stream = null;
    showLinkAlarm("signed_out");
  };
  $("link-alarm-signin").addEventListener("click", () => {
    session.clear();
    hideLinkAlarm();
    showLogin();
  });

  CareHub.setupLogin({
    form: $("login-form"),
    error: $("login-error"),
    allowedRoles: ["caregiver", "admin"],
    onGesture: () => { alarm.enable().then(updateSound); },
    onSignedIn: start,
    resume: false, // started below, once the words are loaded
  });

  $("logout").addEventListener("click", () => { session.clear(); showLogin(); });

  async function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = session.isScreen;
    try {
      state.me = await api("/api/me");
      $("who").textContent = state.me.name || state.me.username || "";
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
    }
    const streamParams = {};
    if (floors.length) streamParams.floor = floors.join(",");
    if (wings.length) streamParams.wing = wings.join(",");
    if (params.get("mine") === "1") streamParams.mine = 1;
    state.stream = new EventStream({
      onEvent: handleEvent,
      onStatus: setConnection,
      onResync: (why) => loadSnapshot(why),
      params: streamParams,
      maxBackoffMs: 4000, // a wall retries often: every second away is a call unheard
    });
    state.stream.start();
    loadSnapshot("initial");
    // Where the browser allows sound without a touch (a kiosk), it starts now and stays armed.
    alarm.enable().then(updateSound);
    updateSound();
  }

  setInterval(() => {
    if (state.stream && !state.linkAlarm) api("/api/me").catch(() => {});
  }, SESSION_CHECK_MS);

  async function loadSnapshot(why) {
    try {
      const presenceParams = { floor: floors.length ? floors : undefined, wing: wings.length ? wings : undefined };
      const [residents, alerts, presence] = await Promise.all([
        api("/api/residents"),
        api("/api/alerts", { params: { state: ["open", "acknowledged"] } }),
        api("/api/presence", { params: presenceParams }).catch(() => []),
      ]);
      const here = residents.filter(onThisFloor);
      if (here.length && here[0].timezone) CareHub.setTimeZone(here[0].timezone);
      state.residents = new Map(here.map((r) => [r.id, r]));
      state.presence = new Map(presence.map((p) => [p.resident_id, p]));
      const fresh = new Map();
      for (const a of alerts.filter(alertHere)) fresh.set(a.id, newerAlert(state.alerts.get(a.id), a));
      // Keep alerts the stream delivered meanwhile and the snapshot does not know yet.
      for (const [id, a] of state.alerts) if (!fresh.has(id) && a.state !== "resolved" && a.raised_at > CareHub.now() - 5) fresh.set(id, a);
      state.alerts = fresh;
      const firstLoad = why === "initial" && state.announced.size === 0;
      if (why === "reconnect" || why === "reset") {
        // What arrived while the link was down is marked and said out loud.
        const since = state.lostAt || 0;
        const missed = [...fresh.values()].filter((a) => a.raised_at >= since - 1);
        for (const a of missed) state.missed.add(a.id);
        if (missed.length) {
          toast(t("wall.link.missed", { n: missed.length }));
          for (const a of missed) if (a.state === "open" && !state.announced.has(a.id)) { state.announced.add(a.id); announce(a); }
        } else {
          toast(t("wall.link.restored"));
        }
      }
      // Alerts already open when the screen starts are sounded once, together, below.
      for (const a of fresh.values()) if (firstLoad) state.announced.add(a.id);
      render();
      if (firstLoad) remind(true);
      loadRoster();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) toast(t("wall.load_failed", { error: err.message }));
    }
  }

  function onThisFloor(r) {
    if (floors.length && !floors.includes(String(r.floor ?? ""))) return false;
    if (wings.length && !wings.includes(String(r.wing ?? ""))) return false;
    return true;
  }
  // Alerts of this floor, and those with no place (hub-wide notices reach every screen).
  function alertHere(a) {
    if (floors.length && a.floor !== null && a.floor !== undefined && !floors.includes(String(a.floor))) return false;
    if (wings.length && a.wing !== null && a.wing !== undefined && !wings.includes(String(a.wing))) return false;
    return true;
  }

  // ------------------------------------------------------------ live events

  function handleEvent(msg) {
    if (msg.type === "system.health") {
      // A live notice from the hub itself (not in the event log): ingest stalled, or well again.
      const stalled = msg.data && msg.data.state === "stalled";
      $("system-alarm").hidden = !stalled;
      $("system-alarm-detail").textContent =
        stalled && msg.data.since ? t("system.ingest_stalled.since", { time: fmtTime(msg.data.since) }) : "";
      if (stalled) alarm.play("high", "device");
      return;
    }
    if (msg.type === "presence.changed") {
      const p = msg.data;
      if (p && state.residents.has(p.resident_id)) {
        state.presence.set(p.resident_id, p);
        render();
      }
      return;
    }
    if (!["alert.raised", "alert.updated", "alert.reminder", "alert.escalated"].includes(msg.type)) return;
    const incoming = msg.data;
    if (!incoming || incoming.id === undefined || !alertHere(incoming)) return;
    if (msg.type === "alert.reminder") state.reminders.set(incoming.id, (state.reminders.get(incoming.id) || 0) + 1);
    const merged = newerAlert(state.alerts.get(incoming.id), incoming);
    if (msg.type === "alert.escalated" && merged.state === "open") {
      merged.escalation_level = Math.max(merged.escalation_level || 0, incoming.escalation_level || incoming.level || 0);
      alarm.play(priorityOf(merged), categoryOf(merged));
    }
    if (merged.state === "resolved") state.alerts.delete(merged.id);
    else state.alerts.set(merged.id, merged);
    if (merged.state === "open" && !state.announced.has(merged.id)) {
      state.announced.add(merged.id);
      if (state.downSince !== null) state.missed.add(merged.id);
      announce(merged);
    }
    render();
  }

  function setConnection(status) {
    const conn = $("conn");
    conn.className = `conn conn-${status}`;
    conn.querySelector(".conn-text").textContent = t(`ui.conn.${status}`);
    if (status === "live") {
      state.downSince = null;
      if (state.linkAlarm === "connection") hideLinkAlarm();
    } else if (state.downSince === null) {
      state.downSince = CareHub.now();
      state.lostAt = state.downSince;
    }
  }

  function showLinkAlarm(kind) {
    state.linkAlarm = kind;
    state.nextLinkTone = 0;
    $("link-alarm").hidden = false;
    $("link-alarm").dataset.kind = kind;
    $("link-alarm-title").textContent = t(`wall.link.${kind}.title`);
    $("link-alarm-text").textContent = t(`wall.link.${kind}.text`);
    $("link-alarm-since").textContent = kind === "connection" && state.downSince
      ? t("wall.link.since", { time: fmtTime(state.downSince) }) : "";
    $("link-alarm-signin").hidden = kind !== "signed_out" || session.isScreen;
    linkTone();
  }
  function hideLinkAlarm() {
    state.linkAlarm = null;
    $("link-alarm").hidden = true;
  }
  // The screen's own alarm repeats like a high-priority alarm: every 10 s until fixed.
  function linkTone() {
    const now = CareHub.now();
    if (state.linkAlarm && now >= state.nextLinkTone) {
      alarm.play("high", "link");
      state.nextLinkTone = now + PATTERNS.high.every;
    }
  }

  // ------------------------------------------------------------ sound

  function updateSound() {
    const b = $("sound");
    b.classList.toggle("off", !alarm.enabled);
    b.setAttribute("aria-pressed", String(alarm.enabled));
    b.textContent = alarm.enabled ? t("wall.sound.on") : t("wall.sound.off");
    const blocked = !alarm.enabled;
    $("sound-blocked").hidden = !blocked;
    $("sound-blocked-title").textContent = alarm.armed ? t("wall.sound.blocked.title") : t("wall.sound.arm.title");
    $("sound-blocked-text").textContent = alarm.armed ? t("wall.sound.blocked.text") : t("wall.sound.arm.text");
    document.body.classList.toggle("sound-ok", alarm.enabled);
  }
  async function unlockSound() {
    if (alarm.enabled) return;
    await alarm.enable();
    updateSound();
    if (alarm.enabled) alarm.play("low", "device"); // so staff hear that it works
  }
  $("sound").addEventListener("click", unlockSound);
  // Any touch or key on the screen unlocks audio the browser held back.
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => { if (!alarm.enabled) unlockSound(); });
  // The browser may suspend audio (e.g. after the screen sleeps): re-check now and then.
  setInterval(updateSound, 3000);

  // A new alert: sound its pattern now and restart reminders for its priority.
  function announce(a) {
    const p = priorityOf(a);
    alarm.play(p, categoryOf(a));
    if (PATTERNS[p].every) state.nextReminder[p] = CareHub.now() + PATTERNS[p].every;
    $("top-alert").classList.add("pop");
    setTimeout(() => $("top-alert").classList.remove("pop"), 1200);
  }

  // Re-announce while anything is still open (unacknowledged): the highest priority's pattern
  // at its interval (IEC 60601-1-8). Acknowledging silences reminders; low priority never repeats.
  function remind(force = false) {
    const open = [...state.alerts.values()].filter((a) => a.state === "open").sort(compareAlerts);
    if (open.length === 0) return;
    const top = open[0];
    const p = priorityOf(top);
    const every = PATTERNS[p].every;
    if (!every && !force) return;
    const now = CareHub.now();
    if (force || now >= state.nextReminder[p]) {
      alarm.play(p, categoryOf(top));
      state.nextReminder[p] = now + (every || 0);
    }
  }

  // ------------------------------------------------------------ who is acting (at a shared screen)

  const actsAsScreen = () => session.isScreen || (state.me && state.me.role === "screen");

  async function loadRoster(force = false) {
    if (!actsAsScreen() && !force) return state.roster;
    if (state.roster && !force && Date.now() - state.rosterAt < ROSTER_MAX_AGE_MS) return state.roster;
    try {
      const data = await api("/api/screens/roster");
      state.roster = data.people;
      state.rosterAt = Date.now();
    } catch { /* keep the last one */ }
    return state.roster || [];
  }
  const names = () => new Map((state.roster || []).map((p) => [p.username, p.name]));

  // At a shared screen the person picks their name; the alert records them, not the TV.
  function pickPerson(a, what) {
    return new Promise(async (resolve) => {
      const people = await loadRoster(true);
      const dialog = $("who-dialog");
      $("who-what").textContent = `${t(what)} · ${alertLabel(a)} · ${where(a)}`;
      $("who-error").textContent = people.length ? "" : t("wall.who.nobody");
      $("who-people").replaceChildren(...people.map((p) => el("button", {
        type: "button", class: `btn btn-big who-person ${p.duty ? "on-duty" : ""}`,
        onclick: () => { dialog.close(); resolve(p); },
      }, p.name || p.username, p.duty && el("span", { class: "duty" }, t(`wall.duty.${p.duty}`)))));
      $("who-cancel").onclick = () => { dialog.close(); resolve(null); };
      dialog.showModal();
    });
  }

  // ------------------------------------------------------------ actions

  async function acknowledge(a, button) {
    button.disabled = true;
    try {
      let updated;
      if (actsAsScreen()) {
        const person = await pickPerson(a, "wall.ack");
        if (!person) { button.disabled = false; return; }
        updated = await api(`/api/screens/alerts/${a.id}/ack`, { method: "POST", body: { user_id: person.id } });
      } else {
        updated = await api(`/api/alerts/${a.id}/ack`, { method: "POST", body: {} });
      }
      handleEvent({ type: "alert.updated", data: updated });
    } catch (err) {
      toast(t("wall.ack_failed", { error: err.message }));
      button.disabled = false;
    }
  }

  let resolving = null;
  async function openResolve(a) {
    resolving = a;
    const form = $("resolve-form");
    form.reset();
    const isFall = a.type === "fall";
    $("fall-questions").hidden = !isFall;
    for (const q of ["on_floor", "was_resident", "unintentional"]) {
      for (const input of form.querySelectorAll(`input[name=${q}]`)) input.required = isFall;
    }
    form.querySelector(".only-fall").hidden = !isFall;
    const screen = actsAsScreen();
    $("resolve-who-label").hidden = !screen;
    $("resolve-who").required = screen;
    if (screen) {
      const people = await loadRoster(true);
      $("resolve-who").replaceChildren(el("option", { value: "" }, t("wall.who.choose")),
        ...people.map((p) => el("option", { value: p.id }, p.name || p.username)));
    }
    $("resolve-title").textContent = t("wall.resolve.title", { what: alertLabel(a) });
    $("resolve-what").textContent = [where(a), t("wall.raised_at", { time: fmtTime(a.raised_at) })].filter(Boolean).join(" · ");
    $("resolve-error").textContent = "";
    $("resolve-dialog").showModal();
  }
  $("resolve-cancel").addEventListener("click", () => $("resolve-dialog").close());
  // All three answers yes: it was a real fall; pre-select it so the common case is one click.
  $("fall-questions").addEventListener("change", () => {
    const f = $("resolve-form");
    const yes = ["on_floor", "was_resident", "unintentional"].map((q) => f[q].value);
    if (yes.every((v) => v === "yes")) f.outcome.value = "real_fall";
    else if (yes.every((v) => v !== "") && f.outcome.value === "real_fall") f.outcome.value = "false_alarm";
  });
  $("resolve-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const a = resolving;
    const body = { note: f.note.value.trim(), outcome: f.outcome.value };
    if (a.type === "fall") {
      body.answers = {
        on_floor: f.on_floor.value === "yes",
        was_resident: f.was_resident.value === "yes",
        unintentional: f.unintentional.value === "yes",
      };
    }
    $("resolve-ok").disabled = true;
    try {
      let updated;
      if (actsAsScreen()) {
        updated = await api(`/api/screens/alerts/${a.id}/resolve`, { method: "POST", body: { ...body, user_id: Number(f.who.value) } });
      } else {
        updated = await api(`/api/alerts/${a.id}/resolve`, { method: "POST", body });
      }
      handleEvent({ type: "alert.updated", data: updated });
      $("resolve-dialog").close();
    } catch (err) {
      $("resolve-error").textContent = t("wall.resolve_failed", { error: err.message });
    } finally {
      $("resolve-ok").disabled = false;
    }
  });

  // ------------------------------------------------------------ rendering

  function sortedAlerts() { return [...state.alerts.values()].sort(compareAlerts); }

  function where(a) {
    const room = a.room || (state.residents.get(a.resident_id) || {}).room;
    return [room ? t("wall.room", { room }) : null, a.resident_name || (a.resident_id ? null : t("wall.whole_home"))]
      .filter(Boolean).join(" · ");
  }

  function actionButtons(a, big) {
    const cls = big ? "btn btn-big" : "btn";
    return el("div", { class: "actions" },
      a.state === "open" && el("button", { class: `${cls} btn-ack`, type: "button", onclick: (e) => acknowledge(a, e.currentTarget) }, t("wall.ack")),
      el("button", { class: `${cls} btn-resolve`, type: "button", onclick: () => openResolve(a) }, t("wall.resolve")));
  }

  // Escalation and reminders, visible: who has been told, how often the hub reminded.
  function badges(a) {
    const out = [];
    if (a.state === "open" && a.escalation_level > 0) out.push(el("span", { class: `badge esc esc-${a.escalation_level}` }, t(`wall.escalated.${Math.min(a.escalation_level, 2)}`)));
    const n = state.reminders.get(a.id) || 0;
    if (a.state === "open" && n > 0) out.push(el("span", { class: "badge rem" }, t("wall.reminders", { n })));
    if (state.missed.has(a.id)) out.push(el("span", { class: "badge missed" }, t("wall.missed")));
    return out;
  }

  function typeBadge(a) {
    return el("span", { class: `type-badge cat-${categoryOf(a)}` }, alertLabel(a));
  }

  function renderTop(alerts) {
    const box = $("top-alert");
    const open = alerts.filter((a) => a.state === "open");
    box.replaceChildren();
    if (open.length === 0) {
      const attended = alerts.length;
      box.className = `top-alert calm ${attended ? "attended" : ""}`;
      box.append(el("div", { class: "top-main" },
        el("div", { class: "top-title" }, attended ? t("wall.top.attended", { n: attended }) : t("wall.top.clear")),
        el("div", { class: "top-sub" }, attended ? t("wall.top.attended_sub") : t("wall.top.clear_sub"))));
      return;
    }
    const a = open[0];
    const p = priorityOf(a);
    box.className = `top-alert prio-${p} cat-${categoryOf(a)}`;
    box.append(
      el("div", { class: "top-main" },
        el("div", { class: "top-title" }, typeBadge(a), " ", where(a)),
        el("div", { class: "top-sub" }, describeAlert(a), " · ", t("wall.waiting"), " ",
          el("span", { class: "age", dataset: { since: a.raised_at } }, fmtAge(CareHub.now() - a.raised_at))),
        el("div", { class: "top-badges" }, badges(a)),
        open.length > 1 && el("div", { class: "top-more" }, t("wall.top.more", { n: open.length - 1 }))),
      actionButtons(a, true));
  }

  function presenceText(r) {
    const p = state.presence.get(r.id);
    if (!p) return null;
    if (p.left_at !== null && p.left_at !== undefined) return { cls: "unseen", text: t("presence.unseen", { time: fmtTime(p.left_at) }) };
    const key = `presence.${p.zone}`;
    return { cls: `zone-${p.zone}`, text: t(CareHub.has(key) ? key : "presence.room", { time: fmtTime(p.entered_at) }) };
  }

  function renderTiles(alerts) {
    const byResident = new Map();
    for (const a of alerts) if (a.resident_id && !byResident.has(a.resident_id)) byResident.set(a.resident_id, a);
    const residents = [...state.residents.values()].sort((x, y) =>
      String(x.room ?? "~").localeCompare(String(y.room ?? "~"), undefined, { numeric: true }) || x.name.localeCompare(y.name));
    $("tiles").replaceChildren(...residents.map((r) => {
      const a = byResident.get(r.id); // the most important, since alerts are sorted
      let cls = "tile ok";
      let status = t("wall.tile.ok");
      if (a && a.state === "open") {
        cls = `tile alert prio-${priorityOf(a)} cat-${categoryOf(a)}`;
        status = el("span", {}, typeBadge(a), " ", el("span", { class: "age", dataset: { since: a.raised_at } }, fmtAge(CareHub.now() - a.raised_at)));
      } else if (a) {
        cls = `tile ack cat-${categoryOf(a)}`;
        status = el("span", {}, typeBadge(a), " ", t("wall.tile.attended"));
      }
      const presence = presenceText(r);
      return el("div", { class: cls, role: "group", "aria-label": `${t("wall.room", { room: r.room || "—" })}, ${r.name}`, dataset: { resident: r.id } },
        el("div", { class: "tile-room" }, r.room || "—"),
        el("div", { class: "tile-name" }, r.name),
        el("div", { class: "tile-status" }, status),
        presence && el("div", { class: `tile-presence ${presence.cls}` }, presence.text),
        a && el("div", { class: "tile-badges" }, badges(a)),
        r.lives_alone && el("div", { class: "tile-tag" }, t("wall.tile.lives_alone")));
    }));
  }

  function renderList(alerts) {
    $("alert-count").textContent = alerts.length ? String(alerts.length) : "";
    $("no-alerts").hidden = alerts.length > 0;
    const who = names();
    $("alerts").replaceChildren(...alerts.map((a) => {
      const p = priorityOf(a);
      return el("li", { class: `alert-row state-${a.state} prio-${p} cat-${categoryOf(a)}`, dataset: { alert: a.id, type: a.type } },
        el("div", { class: "alert-badge" }, t(`priority.${p}`)),
        el("div", { class: "alert-body" },
          el("div", { class: "alert-title" }, typeBadge(a), " ", where(a)),
          el("div", { class: "alert-detail" }, describeAlert(a)),
          el("div", { class: "alert-badges" }, badges(a)),
          a.state === "acknowledged" && el("div", { class: "alert-ack" },
            t("wall.acknowledged_by", { who: acknowledger(a, who), time: fmtTime(a.acknowledged_at) }))),
        el("div", { class: "alert-age" },
          el("span", { class: "age", dataset: { since: a.raised_at } }, fmtAge(CareHub.now() - a.raised_at)),
          el("span", { class: "raised" }, t("wall.since", { time: fmtTime(a.raised_at) }))),
        actionButtons(a, false));
    }));
  }

  function render() {
    const alerts = sortedAlerts();
    renderTop(alerts);
    renderTiles(alerts);
    renderList(alerts);
    const open = alerts.filter((a) => a.state === "open").length;
    document.title = open ? `(${open}) ${t("wall.title")}` : t("wall.title");
  }

  // Age counters, the clock and the link watch tick every second without re-rendering the page.
  function tick() {
    const now = CareHub.now();
    for (const node of document.querySelectorAll(".age[data-since]")) {
      node.textContent = fmtAge(now - Number(node.dataset.since));
    }
    $("clock").textContent = fmtTime(now);
    if (state.downSince !== null && state.stream && now - state.downSince > LINK_ALARM_AFTER_S && state.linkAlarm !== "signed_out") {
      if (state.linkAlarm !== "connection") showLinkAlarm("connection");
    }
    linkTone();
    if (!state.linkAlarm) remind();
  }

  let toastTimer = null;
  function toast(text) {
    const box = $("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  // ------------------------------------------------------------ go

  CareHub.loadWords().then(() => {
    $("lang-slot").append(CareHub.languageSwitch());
    $("floor-label").textContent = floors.length ? t("wall.floor", { floor: floors.join(", ") }) : (wings.length ? t("wall.wing", { wing: wings.join(", ") }) : "");
    setConnection("connecting");
    updateSound();
    setInterval(tick, 1000);
    tick();
    if (session.token) start();
    else showLogin();
  });
})();
