"""Admin CRUD over the API, on SQLite and PostgreSQL: facilities (time zone), floors, rooms and
zones, residents (admit, edit, discharge, readmit), devices (bind, unbind, zone maps), users and
family links; who may read and write what; 404, 409 and 422."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from care_hub.kernel.db import make_engine, make_session_factory
from devices.models import Device
from tests.conftest import HubServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]

BED = {"rect": [0.2, 3.0, 1.6, 4.9]}
CHAIR = {"rect": [3.0, 3.5, 4.0, 4.5]}


def ok(r: httpx.Response, code: int = 200) -> Any:
    assert r.status_code == code, r.text
    return r.json() if r.content else None


def test_facilities_floors_and_rooms_round_trip(hub_server: HubServer) -> None:
    with hub_server.client(hub_server.token("admin")) as c:
        f = ok(c.post("/api/facilities", json={"name": "East Home"}), 201)
        assert f["timezone"] == "Asia/Shanghai"
        assert ok(c.get(f"/api/facilities/{f['id']}")) == f
        assert f["id"] in [x["id"] for x in ok(c.get("/api/facilities"))]
        body = {"timezone": "Europe/London", "settings": {"contact": {"phone": "+86 10 1234"}}}
        f = ok(c.patch(f"/api/facilities/{f['id']}", json=body))
        assert f["timezone"] == "Europe/London" and f["settings"]["contact"]["phone"]
        assert f["name"] == "East Home"  # not sent, not changed
        r = c.patch(f"/api/facilities/{f['id']}", json={"timezone": "Mars/Olympus"})
        assert r.status_code == 422 and "Mars/Olympus" in r.text
        assert c.patch("/api/facilities/999", json={"name": "x"}).status_code == 404

        room = ok(
            c.post(
                "/api/rooms",
                json={
                    "facility_id": f["id"],
                    "name": "201",
                    "floor": "2",
                    "wing": "A",
                    "zones": [{"name": "bed", "shape": BED}],
                },
            ),
            201,
        )
        assert room["zones"] == [{"name": "bed", "shape": BED}]
        ok(c.post("/api/rooms", json={"facility_id": f["id"], "name": "202", "floor": "2"}), 201)
        assert ok(c.get(f"/api/rooms/{room['id']}")) == room
        listed = ok(c.get("/api/rooms", params={"facility_id": f["id"], "floor": "2"}))
        assert [r["name"] for r in listed] == ["201", "202"]
        room = ok(
            c.patch(
                f"/api/rooms/{room['id']}",
                json={"name": "201A", "wing": None, "zones": [{"name": "chair", "shape": CHAIR}]},
            )
        )
        assert (room["name"], room["floor"], room["wing"]) == ("201A", "2", None)
        assert [z["name"] for z in room["zones"]] == ["chair"]
        bad = {"zones": [{"name": "bed", "shape": {"rect": [0, 0, "x", 1]}}]}
        assert c.patch(f"/api/rooms/{room['id']}", json=bad).status_code == 422

        floors = ok(c.get(f"/api/facilities/{f['id']}/floors"))
        assert floors == [
            {"facility_id": f["id"], "floor": "2", "wings": [], "rooms": 2, "residents": 0}
        ]
        floor = ok(c.patch(f"/api/facilities/{f['id']}/floors/2", json={"name": "2F"}))
        assert floor["floor"] == "2F" and floor["rooms"] == 2
        assert ok(c.get(f"/api/rooms/{room['id']}"))["floor"] == "2F"
        assert c.patch(f"/api/facilities/{f['id']}/floors/9", json={"name": "x"}).status_code == 404
        ok(c.post("/api/rooms", json={"facility_id": f["id"], "name": "301", "floor": "3F"}), 201)
        r = c.patch(f"/api/facilities/{f['id']}/floors/3F", json={"name": "2F"})
        assert r.status_code == 409

        # A room with a resident in it stays; an empty one goes; a facility with rooms stays.
        ok(
            c.post(
                "/api/residents",
                json={"id": "E-1", "name": "E", "facility_id": f["id"], "room_id": room["id"]},
            ),
            201,
        )
        assert c.delete(f"/api/rooms/{room['id']}").status_code == 409
        assert c.delete(f"/api/facilities/{f['id']}").status_code == 409
        other = ok(c.get("/api/rooms", params={"facility_id": f["id"], "floor": "3F"}))[0]
        assert c.delete(f"/api/rooms/{other['id']}").status_code == 204
        assert c.get(f"/api/rooms/{other['id']}").status_code == 404
        empty = ok(c.post("/api/facilities", json={"name": "Empty"}), 201)
        assert c.delete(f"/api/facilities/{empty['id']}").status_code == 204
        assert c.delete(f"/api/facilities/{empty['id']}").status_code == 404

    with hub_server.client(hub_server.token("nurse")) as c:  # facility 1: reads its own
        assert [x["id"] for x in ok(c.get("/api/facilities"))] == [1]
        assert c.get(f"/api/facilities/{f['id']}").status_code == 404
        assert c.get(f"/api/rooms/{room['id']}").status_code == 404
        assert all(r["facility_id"] == 1 for r in ok(c.get("/api/rooms")))
        assert ok(c.get("/api/facilities/1/floors"))[0]["rooms"] >= 1
        assert c.patch("/api/facilities/1", json={"name": "x"}).status_code == 403
        assert c.post("/api/rooms", json={"facility_id": 1, "name": "x"}).status_code == 403
        rooms = ok(c.get("/api/rooms"))
        assert c.patch(f"/api/rooms/{rooms[0]['id']}", json={"name": "x"}).status_code == 403
        assert c.delete(f"/api/rooms/{rooms[0]['id']}").status_code == 403
    with hub_server.client(hub_server.token("family")) as c:
        assert c.get("/api/facilities").status_code == 403
        assert c.get("/api/rooms").status_code == 403
    with hub_server.client() as c:
        assert c.get("/api/facilities").status_code == 401


def test_residents_admit_edit_discharge_readmit(hub_server: HubServer, prefix: str) -> None:
    radar = f"{prefix}radar-1"
    with hub_server.client(hub_server.token("admin")) as c:
        rooms = ok(c.get("/api/rooms", params={"facility_id": 1}))
        room_b = ok(c.post("/api/rooms", json={"facility_id": 2, "name": "B-1"}), 201)
        r = ok(
            c.post("/api/residents", json={"id": "R-7", "name": "王秀英", "facility_id": 1}), 201
        )
        assert r["room_id"] is None and r["discharged_at"] is None
        r = ok(
            c.patch(
                "/api/residents/R-7",
                json={"name": "王秀英（二）", "room_id": rooms[0]["id"], "at_risk_wandering": True},
            )
        )
        assert (r["name"], r["room_id"], r["at_risk_wandering"]) == (
            "王秀英（二）",
            rooms[0]["id"],
            True,
        )
        assert r["room"] == rooms[0]["name"] and r["timezone"]
        assert ok(c.get("/api/residents/R-7")) == r
        # A room of another facility: 422 (the boundary); an unknown one: 409.
        assert c.patch("/api/residents/R-7", json={"room_id": room_b["id"]}).status_code == 422
        assert c.patch("/api/residents/R-7", json={"room_id": 99999}).status_code == 409
        assert c.patch("/api/residents/R-7", json={"name": ""}).status_code == 422
        assert c.patch("/api/residents/NOPE", json={"name": "x"}).status_code == 404
        r = ok(c.patch("/api/residents/R-7", json={"room_id": None}))
        assert r["room_id"] is None and r["name"] == "王秀英（二）"

        # Discharge R-1: their radar and button are unbound from them, history kept.
        r = ok(c.post("/api/residents/R-1/discharge", json={"note": "moved to hospital"}))
        assert r["discharged_at"] is not None and r["room_id"] is None
        assert c.post("/api/residents/R-1/discharge", json={}).status_code == 409
        detail = ok(c.get(f"/api/devices/{radar}"))
        assert detail["resident_id"] is None and detail["room_id"] is not None
        assert [b["resident_id"] for b in detail["bindings"]] == ["R-1", None]
        assert "R-1" not in [x["id"] for x in ok(c.get("/api/residents"))]
        everyone = ok(c.get("/api/residents", params={"include_discharged": True}))
        assert "R-1" in [x["id"] for x in everyone]
        assert ok(c.get("/api/residents/R-1"))["discharged_at"] == r["discharged_at"]
        # Their records stay readable; they cannot be placed or bound while discharged.
        assert c.get("/api/residents/R-1/trail").status_code == 200
        assert c.patch("/api/residents/R-1", json={"room_id": rooms[0]["id"]}).status_code == 409
        assert c.post(f"/api/devices/{radar}/bind", json={"resident_id": "R-1"}).status_code == 409
        r = ok(c.patch("/api/residents/R-1", json={"settings": {"diet": "soft"}}))
        assert r["discharged_at"] is not None  # editing settings keeps the discharge
        r = ok(c.post("/api/residents/R-1/readmit"))
        assert r["discharged_at"] is None
        assert c.post("/api/residents/R-1/readmit").status_code == 409
    assert hub_server.hub.registry.get(radar).resident_id is None

    with hub_server.client(hub_server.token("nurse")) as c:
        assert ok(c.get("/api/residents/R-7"))["id"] == "R-7"
        assert c.patch("/api/residents/R-7", json={"name": "x"}).status_code == 403
        assert c.post("/api/residents/R-7/discharge", json={}).status_code == 403
    with hub_server.client(hub_server.token("nurse2")) as c:  # another facility
        assert c.get("/api/residents/R-7").status_code == 404
    with hub_server.client(hub_server.token("family")) as c:
        assert ok(c.get("/api/residents/R-1"))["id"] == "R-1"
        assert c.get("/api/residents/R-2").status_code == 404


def test_devices_bind_unbind_zones(hub_server: HubServer, prefix: str) -> None:
    radar, button = f"{prefix}radar-2", f"{prefix}btn-2"
    with hub_server.client(hub_server.token("admin")) as c:
        zone_map = {"bed": BED, "floor_bed": {"rect": [0.2, 2.0, 1.6, 3.0]}, "door": CHAIR}
        d = ok(c.patch(f"/api/devices/{radar}", json={"zone_map": zone_map}))
        assert d["zone_map"] == zone_map
        assert c.patch(f"/api/devices/{button}", json={"zone_map": zone_map}).status_code == 422
        bad = {"zone_map": {"bed": {"rect": [0, 0, 1]}}}
        assert c.patch(f"/api/devices/{radar}", json=bad).status_code == 422
        assert c.patch(f"/api/devices/{prefix}none", json={"zone_map": {}}).status_code == 404

        d = ok(c.post(f"/api/devices/{radar}/unbind"))
        assert d["room_id"] is None and d["resident_id"] is None
        assert c.post(f"/api/devices/{radar}/unbind").status_code == 409
        room = ok(c.get("/api/residents/R-2"))["room_id"]
        d = ok(c.post(f"/api/devices/{radar}/bind", json={"room_id": room, "resident_id": "R-2"}))
        assert d["resident_id"] == "R-2"
        history = ok(c.get(f"/api/devices/{radar}"))["bindings"]
        assert [(b["resident_id"], b["unbound_at"] is None) for b in history] == [
            ("R-2", False),
            (None, False),
            ("R-2", True),
        ]
        listed = ok(c.get("/api/devices", params={"facility_id": 1, "room_id": room}))
        assert {x["id"] for x in listed} == {radar, button}
        assert ok(c.get("/api/devices", params={"facility_id": 2})) == []
    assert hub_server.hub.registry.get(radar).resident_id == "R-2"
    with hub_server.client(hub_server.token("nurse")) as c:
        assert ok(c.get(f"/api/devices/{radar}"))["zone_map"]["bed"] == BED
        assert c.post(f"/api/devices/{radar}/unbind").status_code == 403
        assert c.patch(f"/api/devices/{radar}", json={"zone_map": {}}).status_code == 403
    with hub_server.client(hub_server.token("nurse2")) as c:
        assert c.get(f"/api/devices/{radar}").status_code == 404
        assert ok(c.get("/api/devices")) == []


def _device_db(
    hub_server: HubServer, device_id: str, learned: dict[str, Any] | None
) -> dict[str, Any]:
    """The device row's `learned` (set to ``learned`` first unless None), over a connection of
    the test's own to the hub's database."""

    async def go() -> dict[str, Any]:
        engine = make_engine(
            hub_server.backend.settings.db_url, schema=hub_server.backend.db_schema
        )
        try:
            async with make_session_factory(engine)() as session:
                d = await session.get(Device, device_id)
                assert d is not None
                if learned is not None:
                    d.learned = learned
                    await session.commit()
                return dict(d.learned or {})
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _set_learned(hub_server: HubServer, device_id: str, learned: dict[str, Any]) -> None:
    _device_db(hub_server, device_id, learned)


def _learned(hub_server: HubServer, device_id: str) -> dict[str, Any]:
    return _device_db(hub_server, device_id, None)


def test_a_radars_height_offset_is_set_bounded_kept_with_its_zones_and_reaches_ingest(
    hub_server: HubServer, prefix: str
) -> None:
    radar, button = f"{prefix}radar-1", f"{prefix}btn-1"
    with hub_server.client(hub_server.token("admin")) as c:
        assert ok(c.get(f"/api/devices/{radar}"))["height_offset_m"] == 0.0
        zone_map = {"bed": BED}
        ok(c.patch(f"/api/devices/{radar}", json={"zone_map": zone_map}))
        d = ok(c.patch(f"/api/devices/{radar}", json={"height_offset_m": 0.12}))
        assert d["height_offset_m"] == 0.12 and d["zone_map"] == zone_map  # zones kept
        assert hub_server.hub.registry.get(radar).height_offset_m == 0.12
        d = ok(c.patch(f"/api/devices/{radar}", json={"zone_map": {}}))
        assert d["height_offset_m"] == 0.12  # and the offset kept when the zones change
        # heights learned under one calibration are dropped when it changes, not otherwise
        _set_learned(hub_server, radar, {"resident_id": "R-1", "heights": {"upright_m": 0.9}})
        # shown for commissioning (a standing adult reads 0.5-0.62 x stature)
        assert ok(c.get(f"/api/devices/{radar}"))["learned_heights"] == {"upright_m": 0.9}
        ok(c.patch(f"/api/devices/{radar}", json={"height_offset_m": 0.12}))
        assert _learned(hub_server, radar) != {}
        ok(c.patch(f"/api/devices/{radar}", json={"height_offset_m": 0.1}))
        assert _learned(hub_server, radar) == {}
        assert ok(c.get(f"/api/devices/{radar}"))["learned_heights"] == {}
        for bad in ({"height_offset_m": 0.8}, {"height_offset_m": "high"}, {}):
            assert c.patch(f"/api/devices/{radar}", json=bad).status_code == 422, bad
        r = c.patch(f"/api/devices/{button}", json={"height_offset_m": 0.1})
        assert r.status_code == 422 and "height offset" in r.json()["detail"]
    with hub_server.client(hub_server.token("nurse")) as c:
        assert c.patch(f"/api/devices/{radar}", json={"height_offset_m": 0.0}).status_code == 403
        assert ok(c.get(f"/api/devices/{radar}"))["height_offset_m"] == 0.1


def test_users_list_links_and_deactivate(hub_server: HubServer) -> None:
    with hub_server.client(hub_server.token("admin")) as c:
        kin = ok(
            c.post(
                "/api/users",
                json={
                    "username": "kin",
                    "password": "long-enough-pw",
                    "role": "family",
                    "name": "李华",
                    "resident_ids": ["R-1"],
                },
            ),
            201,
        )
        assert kin["resident_ids"] == ["R-1"] and kin["active"] is True
        assert ok(c.get(f"/api/users/{kin['id']}")) == kin
        names = [u["username"] for u in ok(c.get("/api/users"))]
        assert {"admin", "nurse", "nurse2", "family", "kin"} <= set(names)
        assert [u["username"] for u in ok(c.get("/api/users", params={"facility_id": 2}))] == [
            "nurse2"
        ]
        dup = {"username": "kin", "password": "long-enough-pw", "role": "family"}
        assert c.post("/api/users", json=dup).status_code == 409
        weak = {"username": "x", "password": "short", "role": "caregiver"}
        assert c.post("/api/users", json=weak).status_code == 422
        assert c.get("/api/users/99999").status_code == 404

    kin_token = hub_server.token("kin", "long-enough-pw")
    with hub_server.client(hub_server.token("admin")) as c:
        kin = ok(c.put(f"/api/users/{kin['id']}/residents", json={"resident_ids": ["R-2"]}))
        assert kin["resident_ids"] == ["R-2"]
        assert (
            c.put(f"/api/users/{kin['id']}/residents", json={"resident_ids": ["R-404"]}).status_code
            == 409
        )
        nurse = next(u for u in ok(c.get("/api/users")) if u["username"] == "nurse")
        assert (
            c.put(f"/api/users/{nurse['id']}/residents", json={"resident_ids": []}).status_code
            == 422
        )
    with hub_server.client(kin_token) as c:  # unlinked from R-1: the old session ends
        assert c.get("/api/residents").status_code == 401
    with hub_server.client(hub_server.token("kin", "long-enough-pw")) as c:
        assert [r["id"] for r in ok(c.get("/api/residents"))] == ["R-2"]

    with hub_server.client(hub_server.token("admin")) as c:  # deactivate (auth.py's PATCH)
        assert ok(c.patch(f"/api/users/{kin['id']}", json={"active": False}))["active"] is False
        assert kin["id"] not in [u["id"] for u in ok(c.get("/api/users"))]
        listed = ok(c.get("/api/users", params={"include_inactive": True}))
        assert next(u for u in listed if u["id"] == kin["id"])["active"] is False
    with hub_server.client(hub_server.token("nurse")) as c:  # staff of their own facility
        staff = ok(c.get("/api/users"))
        assert {u["username"] for u in staff} == {"nurse"}
        assert c.get(f"/api/users/{kin['id']}").status_code == 404
        assert c.post("/api/users", json=dup).status_code == 403
    with hub_server.client(hub_server.token("family")) as c:
        assert c.get("/api/users").status_code == 403


def test_every_provisioning_route_documents_its_response(hub_server: HubServer) -> None:
    """Provisioning and push routes: a response model and their error answers in /openapi.json."""
    schema = ok(hub_server.client().get("/openapi.json"))
    checked = 0
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if not {"provisioning", "push"} & set(op.get("tags", [])):
                continue
            checked += 1
            codes = set(op["responses"])
            success = {"200", "201", "204"} & codes
            assert len(success) == 1, (method, path)
            code = success.pop()
            if code != "204":
                body = op["responses"][code]["content"]["application/json"]["schema"]
                assert body.get("$ref") or body.get("items", {}).get("$ref"), (method, path)
            if path != "/api/push/key":
                assert "401" in codes, (method, path)
            if method in ("post", "patch", "put", "delete") and path != "/api/push/subscriptions":
                assert "404" in codes or method == "post", (method, path)
    assert checked >= 30
