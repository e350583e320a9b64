// care-hub admin page: a facility's floors, rooms, residents (admit, edit, discharge), devices
// (bind, unbind, zones drawn on a room sketch), users and roster, over the provisioning API.
// Plain ES2020, no build step, words through CareHub.t (locales/<lang>/admin.json).
"use strict";
(() => {
  const { api, el, session, t, ApiError } = CareHub;
  const $ = (id) => document.getElementById(id);

  const TABS = ["residents", "rooms", "devices", "users", "roster", "facility"];
  // Zone names the radar processor knows (devices/radar/processor.py).
  const ZONES = ["bed", "chair", "sofa", "floor_bed", "bathroom", "door"];
  const ZONE_COLOURS = { bed: "#5b6cff", chair: "#e0a100", sofa: "#c2410c", floor_bed: "#7c3aed", bathroom: "#12a4a4", door: "#8a8f98" };
  // The sketch is the radar's room plan: 5 x 5 m, drawn at 1 px = 1 cm, snapped to 5 cm.
  const ROOM_M = 5;
  const PX_PER_M = 100;
  const SNAP_M = 0.05;
  const FACILITY_KEY = "care-hub.admin.facility";

  const state = {
    user: null, readonly: true, tab: "residents",
    facilities: [], facility: null,
    floors: [], rooms: [], residents: [], devices: [], users: [], coverage: null,
  };

  // ---------------------------------------------------------------- sign-in and loading

  function showLogin() {
    $("app").hidden = true;
    $("login").hidden = false;
  }
  CareHub.onUnauthorized = () => { session.clear(); showLogin(); };
  CareHub.setupLogin({
    form: $("login-form"), error: $("login-error"), onSignedIn: start,
    allowedRoles: ["admin", "caregiver"], resume: false,
  });
  $("logout").addEventListener("click", () => { session.clear(); showLogin(); });

  async function start(user) {
    state.user = user;
    state.readonly = !user || user.role !== "admin";
    document.body.classList.toggle("readonly", state.readonly);
    $("login").hidden = true;
    $("app").hidden = false;
    $("who").textContent = user ? `${user.name || ""} · ${t(`admin.role.${user.role}`)}` : "";
    try {
      await loadFacilities();
      await loadAll();
    } catch (err) {
      flash(err, true);
    }
    render();
  }

  async function loadFacilities() {
    state.facilities = await api("/api/facilities");
    const wanted = Number(localStorage.getItem(FACILITY_KEY));
    state.facility = state.facilities.find((f) => f.id === wanted) || state.facilities[0] || null;
    const select = $("facility");
    select.replaceChildren(...state.facilities.map((f) => el("option", { value: f.id }, f.name)));
    if (state.facility) {
      select.value = String(state.facility.id);
      CareHub.setTimeZone(state.facility.timezone);
    }
  }

  $("facility").addEventListener("change", async () => {
    state.facility = state.facilities.find((f) => String(f.id) === $("facility").value) || null;
    localStorage.setItem(FACILITY_KEY, $("facility").value);
    if (state.facility) CareHub.setTimeZone(state.facility.timezone);
    await refresh();
  });

  async function loadAll() {
    const f = state.facility;
    if (!f) return;
    const params = { facility_id: f.id };
    [state.floors, state.rooms, state.residents, state.devices, state.users, state.coverage] = await Promise.all([
      api(`/api/facilities/${f.id}/floors`),
      api("/api/rooms", { params }),
      api("/api/residents", { params: { ...params, include_discharged: true } }),
      api("/api/devices", { params }),
      api("/api/users", { params: { include_inactive: true } }),
      api("/api/coverage", { params }).catch(() => null),
    ]);
    // People of this facility, and those bound to none (family members, hub-wide admins).
    state.users = state.users.filter((u) => u.facility_id === f.id || u.facility_id === null);
  }

  async function refresh() {
    try {
      await loadAll();
    } catch (err) {
      flash(err, true);
    }
    render();
  }

  // Run a change, say how it went, reload. Returns whether it worked (dialogs stay open if not).
  async function act(fn, done = "admin.saved") {
    try {
      await fn();
    } catch (err) {
      flash(err, true);
      return false;
    }
    flash(t(done));
    await refresh();
    return true;
  }

  let statusTimer;
  function flash(what, bad = false) {
    const box = $("status");
    const text = what instanceof ApiError ? t("admin.failed", { detail: what.message })
      : what instanceof Error ? t("ui.unreachable") : String(what);
    box.textContent = text;
    box.className = `status${bad ? " bad" : ""}`;
    box.hidden = false;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 3000);
  }

  // ---------------------------------------------------------------- shared pieces

  const roomName = (id) => (state.rooms.find((r) => r.id === id) || {}).name || "";
  const residentName = (id) => (state.residents.find((r) => r.id === id) || {}).name || id || "";
  const roomOptions = (blank = true) => [
    ...(blank ? [{ value: "", label: t("admin.none") }] : []),
    ...state.rooms.map((r) => ({ value: String(r.id), label: r.floor ? `${r.name} · ${r.floor}` : r.name })),
  ];
  const residentOptions = () => [
    { value: "", label: t("admin.none") },
    ...state.residents.filter((r) => !r.discharged_at).map((r) => ({ value: r.id, label: `${r.name} (${r.id})` })),
  ];
  const orNull = (v) => (v === "" || v === undefined ? null : v);
  const list = (v) => String(v || "").split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);

  // A field: {name, label, type: text|password|number|select|check, value, options, required}.
  function field(f) {
    const id = `f-${f.name}`;
    if (f.type === "check") {
      return el("label", { class: "check" },
        el("input", { type: "checkbox", name: f.name, id, checked: !!f.value }), t(f.label));
    }
    let input;
    if (f.type === "select") {
      input = el("select", { name: f.name, id, required: f.required },
        f.options.map((o) => el("option", { value: o.value }, o.label)));
      // Unset: the first option; null: the "(none)" option.
      if (f.value !== undefined) input.value = f.value === null ? "" : String(f.value);
    } else {
      input = el("input", {
        name: f.name, id, type: f.type || "text", required: f.required, list: f.list,
        autocomplete: f.type === "password" ? "new-password" : "off",
        minlength: f.minlength, maxlength: f.maxlength || 200, placeholder: f.placeholder,
      });
      input.value = f.value === null || f.value === undefined ? "" : String(f.value);
    }
    return el("label", {}, el("span", {}, t(f.label)), input);
  }

  function values(form) {
    const out = {};
    for (const node of form.querySelectorAll("input[name], select[name]")) {
      out[node.name] = node.type === "checkbox" ? node.checked : node.value.trim();
    }
    return out;
  }

  // An inline form that adds something: fields, a button; `submit(values)` returns a promise.
  function addForm(title, fields, label, submit) {
    const form = el("form", { class: "inline-form write", dataset: { form: title } },
      fields.map(field), el("button", { class: "btn btn-primary", type: "submit" }, t(label)));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (await act(() => submit(values(form)))) form.reset();
    });
    return el("section", { class: "card write" }, el("h2", {}, t(title)), form);
  }

  // The one dialog for edits and confirmations: resolves when saved (or stays open on error).
  function dialog(title, fields, submit, { ok = "admin.save", danger = false } = {}) {
    const dlg = $("form-dialog");
    $("dialog-title").textContent = title;
    $("dialog-fields").replaceChildren(...fields.map(field));
    $("dialog-error").textContent = "";
    const okButton = $("dialog-ok");
    okButton.textContent = t(ok);
    okButton.className = `btn ${danger ? "btn-danger" : "btn-primary"}`;
    $("dialog-form").onsubmit = async (ev) => {
      ev.preventDefault();
      okButton.disabled = true;
      try {
        await submit(values($("dialog-form")));
        dlg.close();
        flash(t("admin.saved"));
        await refresh();
      } catch (err) {
        $("dialog-error").textContent = err instanceof ApiError ? t("admin.failed", { detail: err.message }) : t("ui.unreachable");
      } finally {
        okButton.disabled = false;
      }
    };
    $("dialog-cancel").onclick = () => dlg.close();
    dlg.showModal();
  }

  function table(head, rows) {
    return el("table", {},
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h ? t(h) : "")))),
      el("tbody", {}, rows));
  }
  const button = (label, cls, onclick) => el("button", { type: "button", class: `btn ${cls}`, onclick }, t(label));

  // ---------------------------------------------------------------- tabs

  function render() {
    $("tabs").replaceChildren(...TABS.map((tab) => el("button", {
      type: "button", role: "tab", "aria-selected": tab === state.tab ? "true" : "false", dataset: { tab },
      onclick: () => { state.tab = tab; render(); },
    }, t(`admin.tab.${tab}`))));
    const panel = $("panel");
    if (!state.facility) {
      panel.replaceChildren(el("p", { class: "empty" }, t("admin.no_facility")), facilityCreate());
      return;
    }
    panel.replaceChildren(...{
      residents: renderResidents, rooms: renderRooms, devices: renderDevices,
      users: renderUsers, roster: renderRoster, facility: renderFacility,
    }[state.tab]());
  }

  // ---- residents: admit, edit, discharge, readmit

  function residentFields(r) {
    return [
      { name: "name", label: "admin.name", value: r.name, required: true },
      { name: "room_id", label: "admin.room", type: "select", options: roomOptions(), value: r.room_id },
      { name: "lives_alone", label: "admin.lives_alone", type: "check", value: r.lives_alone },
      { name: "at_risk_wandering", label: "admin.at_risk_wandering", type: "check", value: r.at_risk_wandering },
      { name: "hypercapnic", label: "admin.hypercapnic", type: "check", value: r.hypercapnic },
    ];
  }
  const residentBody = (v) => ({
    name: v.name, room_id: orNull(v.room_id) && Number(v.room_id),
    lives_alone: v.lives_alone, at_risk_wandering: v.at_risk_wandering, hypercapnic: v.hypercapnic,
  });

  function renderResidents() {
    const rows = state.residents.map((r) => el("tr", { dataset: { id: r.id }, class: r.discharged_at ? "inactive" : "" },
      el("td", {}, r.id), el("td", { class: "name" }, r.name), el("td", {}, r.room || ""),
      el("td", {},
        r.lives_alone && el("span", { class: "pill" }, t("admin.lives_alone")),
        r.at_risk_wandering && el("span", { class: "pill warn" }, t("admin.at_risk_wandering")),
        r.hypercapnic && el("span", { class: "pill" }, t("admin.hypercapnic"))),
      el("td", { class: "status-cell" }, r.discharged_at
        ? el("span", { class: "pill off" }, t("admin.discharged_on", { when: CareHub.fmtDateTime(r.discharged_at) }))
        : t("admin.in_care")),
      el("td", { class: "actions write" }, r.discharged_at
        ? button("admin.readmit", "btn-quiet act-readmit", () => act(() => api(`/api/residents/${r.id}/readmit`, { method: "POST" })))
        : [
          button("admin.edit", "btn-quiet act-edit", () => dialog(t("admin.edit_resident", { name: r.name }), residentFields(r),
            (v) => api(`/api/residents/${r.id}`, { method: "PATCH", body: residentBody(v) }))),
          button("admin.discharge", "btn-danger act-discharge", () => dialog(t("admin.discharge_resident", { name: r.name }),
            [{ name: "note", label: "admin.discharge_note", maxlength: 500 }],
            (v) => api(`/api/residents/${r.id}/discharge`, { method: "POST", body: { note: orNull(v.note) } }),
            { ok: "admin.discharge", danger: true })),
        ])));
    return [
      addForm("admin.admit", [
        { name: "id", label: "admin.resident_id", required: true, placeholder: "R-0042", maxlength: 64 },
        ...residentFields({ name: "" }),
      ], "admin.admit", (v) => api("/api/residents", {
        method: "POST", body: { id: v.id, facility_id: state.facility.id, ...residentBody(v) },
      })),
      el("section", { class: "card" }, el("h2", {}, t("admin.tab.residents")),
        state.residents.length ? table(["admin.resident_id", "admin.name", "admin.room", "admin.flags", "admin.state", ""], rows)
          : el("p", { class: "empty" }, t("admin.none_yet"))),
    ];
  }

  // ---- floors and rooms

  function renderRooms() {
    const floors = state.floors.map((f) => el("tr", { dataset: { floor: f.floor ?? "" } },
      el("td", {}, f.floor ?? t("admin.no_floor")), el("td", {}, f.wings.join(", ")),
      el("td", {}, String(f.rooms)), el("td", {}, String(f.residents)),
      el("td", { class: "actions write" }, f.floor !== null && button("admin.rename", "btn-quiet", () =>
        dialog(t("admin.rename_floor", { floor: f.floor }), [{ name: "name", label: "admin.floor", value: f.floor, required: true, maxlength: 50 }],
          (v) => api(`/api/facilities/${state.facility.id}/floors/${encodeURIComponent(f.floor)}`, { method: "PATCH", body: { name: v.name } }))))));
    const roomFields = (r) => [
      { name: "name", label: "admin.name", value: r.name, required: true, maxlength: 100 },
      { name: "floor", label: "admin.floor", value: r.floor, maxlength: 50, placeholder: "2F" },
      { name: "wing", label: "admin.wing", value: r.wing, maxlength: 50 },
    ];
    const roomBody = (v) => ({ name: v.name, floor: orNull(v.floor), wing: orNull(v.wing) });
    const rooms = state.rooms.map((r) => el("tr", { dataset: { id: r.id } },
      el("td", {}, r.name), el("td", {}, r.floor || ""), el("td", {}, r.wing || ""),
      el("td", {}, state.residents.filter((p) => p.room_id === r.id).map((p) => p.name).join(", ")),
      el("td", {}, r.zones.map((z) => el("span", { class: "pill" }, zoneLabel(z.name)))),
      el("td", { class: "actions write" },
        button("admin.edit", "btn-quiet", () => dialog(t("admin.edit_room", { name: r.name }), roomFields(r),
          (v) => api(`/api/rooms/${r.id}`, { method: "PATCH", body: roomBody(v) }))),
        button("admin.delete", "btn-danger", () => dialog(t("admin.delete_room", { name: r.name }), [],
          () => api(`/api/rooms/${r.id}`, { method: "DELETE" }), { ok: "admin.delete", danger: true })))));
    return [
      el("section", { class: "card" }, el("h2", {}, t("admin.floors")),
        table(["admin.floor", "admin.wing", "admin.rooms", "admin.tab.residents", ""], floors)),
      addForm("admin.add_room", roomFields({}), "admin.add",
        (v) => api("/api/rooms", { method: "POST", body: { facility_id: state.facility.id, ...roomBody(v) } })),
      el("section", { class: "card" }, el("h2", {}, t("admin.rooms")),
        table(["admin.name", "admin.floor", "admin.wing", "admin.tab.residents", "admin.zones", ""], rooms)),
    ];
  }

  // ---- devices: add, bind, unbind, zones

  // Zone names as furniture ("bed"), not as where someone is ("in bed", the family page's words).
  const zoneLabel = (name) => (CareHub.has(`admin.zone.${name}`) ? t(`admin.zone.${name}`) : name);

  function renderDevices() {
    const rows = state.devices.map((d) => el("tr", { dataset: { id: d.id } },
      el("td", {}, d.id), el("td", {}, t(`device.type.${d.type}`)),
      el("td", {}, roomName(d.room_id)), el("td", {}, d.resident_id ? residentName(d.resident_id) : ""),
      el("td", {}, t(`admin.device_state.${d.state || "unknown"}`),
        d.battery !== null && d.battery !== undefined ? ` · ${Math.round(d.battery * 100)}%` : ""),
      el("td", {}, Object.keys(d.zone_map || {}).map((z) => el("span", { class: "pill" }, zoneLabel(z)))),
      el("td", { class: "actions write" },
        button("admin.bind", "btn-quiet act-bind", () => dialog(t("admin.bind_device", { id: d.id }), [
          { name: "room_id", label: "admin.room", type: "select", options: roomOptions(), value: d.room_id },
          { name: "resident_id", label: "admin.resident", type: "select", options: residentOptions(), value: d.resident_id },
        ], (v) => api(`/api/devices/${d.id}/bind`, {
          method: "POST", body: { room_id: orNull(v.room_id) && Number(v.room_id), resident_id: orNull(v.resident_id) },
        }))),
        (d.room_id || d.resident_id) && button("admin.unbind", "btn-quiet act-unbind",
          () => act(() => api(`/api/devices/${d.id}/unbind`, { method: "POST" }))),
        d.type === "radar" && button("admin.zones", "btn-primary act-zones", () => openZones(d)))));
    return [
      addForm("admin.add_device", [
        { name: "id", label: "admin.device_id", required: true, maxlength: 64, placeholder: "radar-201" },
        { name: "type", label: "admin.device_type", type: "select", value: "radar",
          options: ["radar", "button", "kit"].map((v) => ({ value: v, label: t(`device.type.${v}`) })) },
        { name: "room_id", label: "admin.room", type: "select", options: roomOptions() },
        { name: "resident_id", label: "admin.resident", type: "select", options: residentOptions() },
      ], "admin.add", (v) => api("/api/devices", {
        method: "POST",
        body: { id: v.id, type: v.type, facility_id: state.facility.id, room_id: orNull(v.room_id) && Number(v.room_id), resident_id: orNull(v.resident_id) },
      })),
      el("section", { class: "card" }, el("h2", {}, t("admin.tab.devices")),
        state.devices.length ? table(["admin.device_id", "admin.device_type", "admin.room", "admin.resident", "admin.state", "admin.zones", ""], rows)
          : el("p", { class: "empty" }, t("admin.none_yet"))),
    ];
  }

  // The zone editor: pick a zone name, drag a rectangle on the 5 x 5 m plan; Save sends the map
  // {"bed": {"rect": [x0, y0, x1, y1]}, ...} in room metres (origin at the plan's lower left).
  const zoneEditor = { device: null, zones: {}, active: "bed", drag: null };
  const SVG = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  };
  const snap = (m) => Math.min(ROOM_M, Math.max(0, Math.round(m / SNAP_M) * SNAP_M));
  const round2 = (m) => Math.round(m * 100) / 100;

  function openZones(device) {
    zoneEditor.device = device;
    // Rectangles only: a polygon zone (from the API) is kept as it is and shown in the list.
    zoneEditor.zones = JSON.parse(JSON.stringify(device.zone_map || {}));
    zoneEditor.active = "bed";
    $("zone-offset").value = String(device.height_offset_m || 0);
    $("zone-title").textContent = t("admin.zones.title", { id: device.id, room: roomName(device.room_id) });
    $("zone-error").textContent = "";
    renderZoneNames();
    drawSketch();
    $("zone-dialog").showModal();
  }

  function renderZoneNames() {
    $("zone-names").replaceChildren(...ZONES.map((name) => el("label", {},
      el("input", { type: "radio", name: "zone", value: name, checked: name === zoneEditor.active,
        onchange: () => { zoneEditor.active = name; drawSketch(); } }),
      el("span", { class: "swatch", style: `background:${ZONE_COLOURS[name]}` }),
      zoneLabel(name),
      zoneEditor.zones[name] ? " ✓" : "")));
  }

  function toMetres(ev) {
    const svg = $("sketch");
    const point = svg.createSVGPoint();
    point.x = ev.clientX;
    point.y = ev.clientY;
    const p = point.matrixTransform(svg.getScreenCTM().inverse());
    return [snap(p.x / PX_PER_M), snap(ROOM_M - p.y / PX_PER_M)];
  }

  function drawSketch() {
    const svg = $("sketch");
    svg.replaceChildren();
    for (let m = 0; m <= ROOM_M; m += 0.5) {
      const px = m * PX_PER_M;
      svg.append(svgEl("line", { class: "grid", x1: px, y1: 0, x2: px, y2: 500, "stroke-width": m % 1 ? 1 : 2 }),
        svgEl("line", { class: "grid", x1: 0, y1: px, x2: 500, y2: px, "stroke-width": m % 1 ? 1 : 2 }));
    }
    const shapes = { ...zoneEditor.zones };
    if (zoneEditor.drag) shapes[zoneEditor.active] = { rect: zoneEditor.drag.rect };
    for (const [name, shape] of Object.entries(shapes)) {
      if (!shape || !shape.rect) continue;
      const [x0, y0, x1, y1] = shape.rect;
      const colour = ZONE_COLOURS[name] || "#444";
      svg.append(svgEl("rect", {
        class: `zone${name === zoneEditor.active ? " active" : ""}`, "data-zone": name,
        x: x0 * PX_PER_M, y: (ROOM_M - y1) * PX_PER_M, width: (x1 - x0) * PX_PER_M, height: (y1 - y0) * PX_PER_M,
        fill: colour, stroke: colour,
      }));
      const label = svgEl("text", { x: x0 * PX_PER_M + 6, y: (ROOM_M - y1) * PX_PER_M + 24 });
      label.textContent = zoneLabel(name);
      svg.append(label);
    }
  }

  $("sketch").addEventListener("pointerdown", (ev) => {
    if (state.readonly) return;
    const start = toMetres(ev);
    zoneEditor.drag = { start, rect: [...start, ...start] };
    $("sketch").setPointerCapture(ev.pointerId);
  });
  $("sketch").addEventListener("pointermove", (ev) => {
    const drag = zoneEditor.drag;
    if (!drag) return;
    const [x, y] = toMetres(ev);
    const [sx, sy] = drag.start;
    drag.rect = [Math.min(sx, x), Math.min(sy, y), Math.max(sx, x), Math.max(sy, y)].map(round2);
    drawSketch();
  });
  $("sketch").addEventListener("pointerup", () => {
    const drag = zoneEditor.drag;
    zoneEditor.drag = null;
    if (drag && drag.rect[2] - drag.rect[0] >= 0.1 && drag.rect[3] - drag.rect[1] >= 0.1) {
      zoneEditor.zones[zoneEditor.active] = { rect: drag.rect };
    }
    renderZoneNames();
    drawSketch();
  });
  $("zone-clear").addEventListener("click", () => {
    delete zoneEditor.zones[zoneEditor.active];
    renderZoneNames();
    drawSketch();
  });
  $("zone-cancel").addEventListener("click", () => $("zone-dialog").close());
  $("zone-offset").addEventListener("input", () => { $("zone-error").textContent = ""; });
  $("zone-save").addEventListener("click", async () => {
    const d = zoneEditor.device;
    const offset = $("zone-offset");
    if (!offset.checkValidity()) {
      $("zone-error").textContent = t("admin.height_offset.invalid");
      return;
    }
    try {
      await api(`/api/devices/${d.id}`, {
        method: "PATCH", body: { zone_map: zoneEditor.zones, height_offset_m: Number(offset.value) },
      });
    } catch (err) {
      $("zone-error").textContent = err instanceof ApiError ? t("admin.failed", { detail: err.message }) : t("ui.unreachable");
      return;
    }
    $("zone-dialog").close();
    flash(t("admin.saved"));
    await refresh();
  });

  // ---- users: create, deactivate, password, family links

  function renderUsers() {
    const rows = state.users.map((u) => el("tr", { dataset: { id: u.id }, class: u.active ? "" : "inactive" },
      el("td", {}, u.username), el("td", {}, u.name), el("td", {}, t(`admin.role.${u.role}`)),
      el("td", {}, u.resident_ids.map((id) => el("span", { class: "pill" }, residentName(id)))),
      el("td", {}, u.active ? t("admin.active") : el("span", { class: "pill off" }, t("admin.inactive"))),
      el("td", { class: "actions write" },
        u.id !== state.user.id && button(u.active ? "admin.deactivate" : "admin.reactivate", "btn-quiet act-active",
          () => act(() => api(`/api/users/${u.id}`, { method: "PATCH", body: { active: !u.active } }))),
        button("admin.set_password", "btn-quiet", () => dialog(t("admin.set_password_for", { name: u.name || u.username }),
          [{ name: "password", label: "ui.password", type: "password", required: true, minlength: 8 }],
          (v) => api(`/api/users/${u.id}`, { method: "PATCH", body: { password: v.password } }))),
        u.role === "family" && button("admin.links", "btn-quiet", () => dialog(t("admin.links_for", { name: u.name || u.username }),
          [{ name: "resident_ids", label: "admin.resident_ids", value: u.resident_ids.join(", ") }],
          (v) => api(`/api/users/${u.id}/residents`, { method: "PUT", body: { resident_ids: list(v.resident_ids) } }))))));
    return [
      addForm("admin.add_user", [
        { name: "username", label: "ui.username", required: true, maxlength: 100 },
        { name: "name", label: "admin.name" },
        { name: "password", label: "ui.password", type: "password", required: true, minlength: 8 },
        { name: "role", label: "admin.role", type: "select", value: "caregiver",
          options: ["caregiver", "family", "admin"].map((v) => ({ value: v, label: t(`admin.role.${v}`) })) },
        { name: "resident_ids", label: "admin.resident_ids", placeholder: "R-1, R-2" },
      ], "admin.add", (v) => api("/api/users", {
        method: "POST",
        body: {
          username: v.username, name: v.name, password: v.password, role: v.role,
          facility_id: v.role === "family" ? null : state.facility.id,
          resident_ids: v.role === "family" ? list(v.resident_ids) : [],
        },
      })),
      el("section", { class: "card" }, el("h2", {}, t("admin.tab.users")),
        table(["ui.username", "admin.name", "admin.role", "admin.tab.residents", "admin.state", ""], rows)),
    ];
  }

  // ---- roster (coverage assignments: alerts/routing)

  function renderRoster() {
    const cov = state.coverage || { assignments: [], current_shift: null };
    const staff = state.users.filter((u) => u.active && (u.role === "caregiver" || u.role === "admin"));
    const who = (id) => { const u = state.users.find((x) => x.id === id); return u ? u.name || u.username : `#${id}`; };
    const shifts = Object.keys((state.facility.settings || {}).shifts || { day: 1, night: 1 });
    const rows = cov.assignments.map((a) => el("tr", { dataset: { id: a.id } },
      el("td", {}, who(a.user_id)), el("td", {}, a.shift), el("td", {}, t(`admin.duty.${a.duty}`)),
      el("td", {}, [...a.floors, ...a.wings, ...a.resident_ids.map(residentName)].join(", ") || t("admin.whole_facility")),
      el("td", { class: "actions write" }, button("admin.delete", "btn-quiet",
        () => act(() => api(`/api/coverage/${a.id}`, { method: "DELETE" }))))));
    return [
      addForm("admin.add_roster", [
        { name: "user_id", label: "admin.person", type: "select", required: true,
          options: staff.map((u) => ({ value: String(u.id), label: u.name || u.username })) },
        { name: "shift", label: "admin.shift", type: "select", options: shifts.map((s) => ({ value: s, label: s })) },
        { name: "duty", label: "admin.duty", type: "select", value: "caregiver",
          options: ["caregiver", "charge_nurse"].map((v) => ({ value: v, label: t(`admin.duty.${v}`) })) },
        { name: "floors", label: "admin.floors", placeholder: "1, 2" },
      ], "admin.add", (v) => api("/api/coverage", {
        method: "POST",
        body: { facility_id: state.facility.id, user_id: Number(v.user_id), shift: v.shift, duty: v.duty, floors: list(v.floors) },
      })),
      el("section", { class: "card" }, el("h2", {}, t("admin.tab.roster")),
        cov.current_shift && el("p", { class: "muted" }, t("admin.current_shift", { shift: cov.current_shift })),
        cov.assignments.length ? table(["admin.person", "admin.shift", "admin.duty", "admin.area", ""], rows)
          : el("p", { class: "empty" }, t("admin.none_yet"))),
    ];
  }

  // ---- facility: name, time zone, phone; a new facility

  function timeZones() {
    try { return Intl.supportedValuesOf("timeZone"); } catch { return ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "UTC"]; }
  }

  function renderFacility() {
    const f = state.facility;
    const contact = (f.settings || {}).contact || {};
    const form = el("form", { class: "inline-form write", id: "facility-form" },
      field({ name: "name", label: "admin.name", value: f.name, required: true }),
      field({ name: "timezone", label: "admin.timezone", value: f.timezone, required: true, list: "tz-list" }),
      field({ name: "phone", label: "admin.phone", value: contact.phone || "", maxlength: 40 }),
      el("datalist", { id: "tz-list" }, timeZones().map((z) => el("option", { value: z }))),
      el("button", { class: "btn btn-primary", type: "submit" }, t("admin.save")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = values(form);
      const settings = { ...(f.settings || {}), contact: { ...contact, phone: v.phone || undefined } };
      if (await act(() => api(`/api/facilities/${f.id}`, { method: "PATCH", body: { name: v.name, timezone: v.timezone, settings } }))) {
        await loadFacilities();
        render();
      }
    });
    return [
      el("section", { class: "card" }, el("h2", {}, t("admin.tab.facility")),
        el("p", { class: "muted" }, t("admin.timezone_help")),
        state.readonly ? el("p", {}, `${f.name} · ${f.timezone}`) : form),
      facilityCreate(),
    ];
  }

  function facilityCreate() {
    return addForm("admin.add_facility", [
      { name: "name", label: "admin.name", required: true },
      { name: "timezone", label: "admin.timezone", value: "Asia/Shanghai", required: true },
    ], "admin.add", async (v) => {
      const f = await api("/api/facilities", { method: "POST", body: { name: v.name, timezone: v.timezone } });
      localStorage.setItem(FACILITY_KEY, String(f.id));
      await loadFacilities();
    });
  }

  CareHub.loadWords().then(() => {
    $("lang-slot").append(CareHub.languageSwitch());
    if (session.token) start(session.user);
    else showLogin();
  });
})();
