"""Delivery to websockets: resume with `since` gets exactly the missed events, a slow client is cut
off and resumes, family and wall-screen audiences see only their part, in their shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from alerts import service
from alerts.models import Alert
from care_hub.kernel import events as events_module
from care_hub.kernel.models import EventLog
from tests.alerts.conftest import choose_family_types, run_on_hub, set_roster, user_id
from tests.conftest import HubServer
from tests.e2e.test_calls import WsReader

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def raise_alert(
    server: HubServer,
    *,
    type: str = "call",
    resident: str | None = "R-1",
    key: str | None = None,
    facility_id: int = 1,
) -> int:
    hub = server.hub

    async def go() -> int:
        async with hub.session_factory() as session:
            alert, _ = await service.raise_alert(
                session,
                hub.bus,
                type=type,
                severity="high",
                facility_id=facility_id,
                resident_id=resident,
                device_id=None,
                dedupe_key=key or f"{type}:{resident}",
                detail={},
            )
            await hub.bus.commit(session)
            return alert.id

    return run_on_hub(server, go)


def comment(server: HubServer, alert_id: int, texts: list[str]) -> None:
    """Several events in one commit (one publish burst)."""
    hub = server.hub

    async def go() -> None:
        async with hub.session_factory() as session:
            alert = await session.get(Alert, alert_id)
            for text in texts:
                await service.comment(session, hub.bus, alert, actor="nurse", text=text)
            await hub.bus.commit(session)

    run_on_hub(server, go)


def event_seqs(server: HubServer, after: int, facility_id: int = 1) -> list[int]:
    hub = server.hub

    async def go() -> list[int]:
        async with hub.session_factory() as session:
            return list(
                (
                    await session.scalars(
                        select(EventLog.seq)
                        .where(EventLog.seq > after, EventLog.facility_id == facility_id)
                        .order_by(EventLog.seq)
                    )
                ).all()
            )

    return run_on_hub(server, go)


def receive_until(reader: WsReader, last_seq: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Every non-ping event up to and including seq `last_seq`."""
    got: list[dict[str, Any]] = []
    while not got or got[-1]["seq"] < last_seq:
        event = json.loads(reader.ws.recv(timeout=timeout))
        if event["type"] != "ping":
            got.append(event)
    return got


def test_drop_and_resume_receives_exactly_the_missed_events(alert_hub: HubServer) -> None:
    nurse = alert_hub.token("nurse")
    screen = WsReader(alert_hub, nurse, since=None)
    alert_id = raise_alert(alert_hub)
    seen = screen.next_of("alert.raised")["seq"]
    screen.close()
    # While the screen is away: events of its facility, and one of another facility (not for it).
    comment(alert_hub, alert_id, ["one", "two"])
    raise_alert(alert_hub, resident=None, type="device_offline", key="elsewhere", facility_id=2)
    offline = raise_alert(alert_hub, resident="R-1", type="device_offline", key="x")
    comment(alert_hub, offline, ["three"])
    missed = event_seqs(alert_hub, seen)
    assert len(missed) == 4
    resumed = WsReader(alert_hub, nurse, since=seen)
    got = receive_until(resumed, missed[-1])
    assert [e["seq"] for e in got] == missed
    assert [e["data"].get("text") for e in got if e["type"] == "alert.comment"] == [
        "one",
        "two",
        "three",
    ]
    # Live events continue after the replay, with no duplicate of a replayed one.
    comment(alert_hub, alert_id, ["four"])
    live = receive_until(resumed, missed[-1] + 1)
    assert [e["data"]["text"] for e in live] == ["four"]
    resumed.close()


def test_slow_client_is_disconnected_and_resumes(
    alert_hub: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "CLIENT_QUEUE_MAX", 5)
    nurse = alert_hub.token("nurse")
    alert_id = raise_alert(alert_hub)
    slow = WsReader(alert_hub, nurse, since=None)
    start = slow.last_seq
    comment(alert_hub, alert_id, [f"c{i}" for i in range(20)])  # 20 events in one burst > 5
    received: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            received.append(json.loads(slow.ws.recv(timeout=10)))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    last = max([start] + [e["seq"] for e in received if e["type"] != "ping"])
    resumed = WsReader(alert_hub, nurse, since=last)
    expected = event_seqs(alert_hub, last)
    got = receive_until(resumed, expected[-1])
    assert [e["seq"] for e in got] == expected
    texts = [e["data"]["text"] for e in received + got if e["type"] == "alert.comment"]
    assert texts == [f"c{i}" for i in range(20)]
    resumed.close()


def test_family_sees_only_their_relative_and_chosen_types(alert_hub: HubServer) -> None:
    run_on_hub(alert_hub, lambda: _choose(alert_hub, "family", ["fall"]))
    family = WsReader(alert_hub, alert_hub.token("family"), since=None)
    call_r1 = raise_alert(alert_hub, type="call", resident="R-1")  # not a chosen type
    fall_r2 = raise_alert(alert_hub, type="fall", resident="R-2")  # not their relative
    fall_r1 = raise_alert(alert_hub, type="fall", resident="R-1")
    nurse = alert_hub.token("nurse")
    with alert_hub.client(nurse) as c:
        assert (
            c.post(f"/api/alerts/{fall_r1}/ack", json={"note": "private staff note"}).status_code
            == 200
        )
        assert (
            c.post(f"/api/alerts/{fall_r1}/comments", json={"text": "staff only"}).status_code
            == 201
        )
    raised = family.next_of("alert.raised")
    assert raised["data"]["id"] == fall_r1
    updated = family.next_of("alert.updated")
    assert updated["data"]["state"] == "acknowledged"
    assert updated["data"]["acknowledged_by_role"] == "caregiver"
    assert updated["data"]["status"] == "acknowledged by a caregiver"
    blob = json.dumps([raised, updated])
    assert "nurse" not in blob and "private staff note" not in blob and "facility_id" not in blob
    # Nothing else reached the family socket: the next event it gets is a fresh one of theirs.
    raise_alert(alert_hub, type="fall", resident="R-1", key="fall:R-1:again")
    nxt = family.next_of("alert.raised")
    assert nxt["data"]["resident_id"] == "R-1" and nxt["data"]["id"] not in (call_r1, fall_r2)
    family.close()
    with alert_hub.client(alert_hub.token("family")) as c:
        listed = c.get("/api/alerts").json()
        assert {a["type"] for a in listed} == {"fall"} and {a["resident_id"] for a in listed} == {
            "R-1"
        }
        assert all("acknowledged_by" not in a for a in listed)
        assert c.get(f"/api/alerts/{call_r1}").status_code == 404
        assert c.get(f"/api/alerts/{fall_r2}").status_code == 404
        history = c.get(f"/api/alerts/{fall_r1}").json()["history"]
        assert [h["action"] for h in history] == ["raised", "acknowledged"]
        assert "staff only" not in json.dumps(history)


async def _choose(server: HubServer, username: str, types: list[str]) -> None:
    async with server.hub.session_factory() as session:
        await choose_family_types(session, username, types)


def test_wall_screen_per_floor_and_personal_device_follow_the_roster(alert_hub: HubServer) -> None:
    async def roster() -> dict[str, int]:
        async with alert_hub.hub.session_factory() as session:
            ids = await set_roster(session)
            ids["admin"] = await user_id(session, "admin")
            return ids

    run_on_hub(alert_hub, roster)
    nurse = alert_hub.token("nurse")
    floor2 = _connect(alert_hub, nurse, "&floor=2")
    wing_a = _connect(alert_hub, alert_hub.token("admin"), "&wing=A")
    mine_b = _connect(alert_hub, alert_hub.token("nurse_b"), "&mine=1")
    raise_alert(alert_hub, type="call", resident="R-1")  # floor 1, wing A: nurse's area
    r2 = raise_alert(alert_hub, type="call", resident="R-2")  # floor 2, wing B: nurse_b's area
    got = floor2.next_of("alert.raised")
    assert got["data"]["id"] == r2 and got["data"]["floor"] == "2"
    assert wing_a.next_of("alert.raised")["data"]["resident_id"] == "R-1"
    assert mine_b.next_of("alert.raised")["data"]["id"] == r2
    # The next R-1 event is not for the floor-2 screen nor nurse_b's phone; an R-2 one is.
    raise_alert(alert_hub, type="fall", resident="R-1")
    r2_fall = raise_alert(alert_hub, type="fall", resident="R-2")
    assert floor2.next_of("alert.raised")["data"]["id"] == r2_fall
    assert mine_b.next_of("alert.raised")["data"]["id"] == r2_fall
    for reader in (floor2, wing_a, mine_b):
        reader.close()


def _connect(server: HubServer, token: str, extra: str) -> WsReader:
    reader = WsReader.__new__(WsReader)
    from websockets.sync.client import connect

    reader.ws = connect(f"{server.ws_url}?token={token}{extra}", open_timeout=10)
    hello = json.loads(reader.ws.recv(timeout=10))
    assert hello["type"] == "hello"
    reader.last_seq = hello["data"]["last_seq"]
    return reader
