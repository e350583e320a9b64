"""Video over a real hub: a call rings, is answered, signals and ends, and every step is in the
audit; people outside a call can neither join it nor read its signalling; device tokens stay
on their own page."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import HubServer
from tests.video.conftest import RING_TIMEOUT_S, SDP, Signal, resident_screen


def post_call(server: HubServer, token: str, resident_id: str, **extra: object) -> dict:
    with server.client(token) as c:
        r = c.post("/api/video/calls", json={"resident_id": resident_id, **extra})
        assert r.status_code == 201, r.text
        return dict(r.json())


def history(server: HubServer, token: str) -> list[dict]:
    with server.client(token) as c:
        return list(c.get("/api/video/calls").raise_for_status().json())


def test_call_rings_connects_relays_only_between_parties_and_is_audited(video_hub: HubServer) -> None:
    s = video_hub
    screen1, screen2 = resident_screen(s, "R-1"), resident_screen(s, "R-2")
    nurse_token = s.token("nurse")
    nurse = Signal(s, nurse_token)
    tablet = Signal(s, screen1["access_token"])
    other_tablet = Signal(s, screen2["access_token"])
    family = Signal(s, s.token("family"))  # R-1 lets family join
    stranger = Signal(s, s.token("family2"))  # R-2's family
    call = post_call(s, nurse_token, "R-1")
    cid = call["id"]
    assert call["state"] == "ringing" and call["family_may_join"] is True
    tablet.wait("call", id=cid, state="ringing")
    nurse.send(type="attach", call_id=cid)
    tablet.send(type="accept", call_id=cid)
    answered = nurse.wait("call", id=cid, state="answered")["call"]
    assert {p["role"] for p in answered["parties"]} == {"caller", "resident"}
    nurse.send(type="offer", call_id=cid, to=tablet.peer, sdp=SDP)
    assert tablet.wait("offer", call_id=cid)["from"] == nurse.peer
    tablet.send(type="answer", call_id=cid, to=nurse.peer, sdp=SDP)
    nurse.wait("answer", call_id=cid)
    nurse.send(type="ice", call_id=cid, to=tablet.peer, candidate={"candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host", "sdpMid": "0"})
    tablet.wait("ice", call_id=cid)

    # Outsiders: another resident's screen and another resident's family get nothing and can do
    # nothing; their messages are answered with the same "unknown call" as a call that does not exist.
    for outsider in (other_tablet, stranger):
        outsider.send(type="join", call_id=cid)
        outsider.send(type="offer", call_id=cid, to=tablet.peer, sdp=SDP)
        outsider.send(type="accept", call_id=cid)
        outsider.send(type="join", call_id=999_999)
    time.sleep(0.5)
    for outsider in (other_tablet, stranger):
        assert [e["code"] for e in outsider.of("error")] == ["unknown_call"] * 4
        assert outsider.of("call") == [] and outsider.of("offer") == [] and outsider.of("ice") == []
    assert len(tablet.of("offer")) == 1  # the outsiders' offers went nowhere

    # The resident's family joins (allowed) and signals with the parties.
    family.wait("call", id=cid, state="answered")
    family.send(type="join", call_id=cid)
    nurse.wait("call", id=cid, state="answered")
    family.send(type="offer", call_id=cid, to=tablet.peer, sdp=SDP)
    assert tablet.wait("offer", call_id=cid, **{"from": family.peer})
    # bad input from a party: an error on the socket, the call goes on
    tablet.send(type="answer", call_id=cid, to=nurse.peer, sdp="x" * 40_000)
    tablet.send(type="ice", call_id=cid, to="p-none", candidate=None)
    tablet.wait("error", code="sdp_too_large")
    tablet.wait("error", code="unknown_peer")

    tablet.send(type="hangup", call_id=cid)
    nurse.wait("call", id=cid, state="ended")
    family.wait("call", id=cid, state="ended")
    row = next(r for r in history(s, nurse_token) if r["id"] == cid)
    assert row["outcome"] == "ended" and row["caller_name"] and row["resident_name"] == "Resident 1"
    assert row["duration_s"] is not None and row["duration_s"] >= 0
    with s.client(nurse_token) as c:
        audit = c.get(f"/api/video/calls/{cid}/audit").raise_for_status().json()
    assert [a["action"] for a in audit] == ["started", "answered", "joined", "ended"]
    for sock in (nurse, tablet, other_tablet, family, stranger):
        sock.close()


def test_decline_no_answer_and_cancel_are_recorded(video_hub: HubServer) -> None:
    s = video_hub
    screen = resident_screen(s, "R-2")
    nurse_token = s.token("nurse")
    nurse, tablet = Signal(s, nurse_token), Signal(s, screen["access_token"])
    declined = post_call(s, nurse_token, "R-2")
    tablet.wait("call", id=declined["id"], state="ringing")
    tablet.send(type="decline", call_id=declined["id"])
    nurse.wait("call", id=declined["id"], state="declined")
    rung_out = post_call(s, nurse_token, "R-2")
    nurse.wait("call", id=rung_out["id"], state="no_answer", timeout=RING_TIMEOUT_S + 5)
    cancelled = post_call(s, nurse_token, "R-2")
    nurse.send(type="attach", call_id=cancelled["id"])
    nurse.wait("call", id=cancelled["id"], state="ringing")
    nurse.send(type="hangup", call_id=cancelled["id"])
    tablet.wait("call", id=cancelled["id"], state="cancelled")
    outcomes = {r["id"]: r["outcome"] for r in history(s, nurse_token)}
    assert outcomes[declined["id"]] == "declined"
    assert outcomes[rung_out["id"]] == "no_answer"
    assert outcomes[cancelled["id"]] == "cancelled"
    nurse.close()
    tablet.close()


def test_device_tokens_and_roles_stay_in_their_lane(video_hub: HubServer) -> None:
    s = video_hub
    screen1, screen2 = resident_screen(s, "R-1"), resident_screen(s, "R-2")
    nurse_token = s.token("nurse")
    with s.client(screen1["access_token"]) as c:
        # A resident's screen is no staff member: every other route refuses it.
        for path in ("/api/alerts", "/api/residents", "/api/video/calls", "/api/me"):
            assert c.get(path).status_code == 403, path
        assert c.post("/api/video/calls", json={"resident_id": "R-1"}).status_code == 403
        me = c.get("/api/video/me").raise_for_status().json()
        assert me["resident"]["id"] == "R-1"
        ticket = c.post("/api/video/ws-ticket").raise_for_status().json()["ticket"]
    with s.client(s.token("family")) as c:
        assert c.post("/api/video/calls", json={"resident_id": "R-1"}).status_code == 403
        assert c.get("/api/video/calls").status_code == 403
    with s.client(s.token("nurse2")) as c:  # another facility's nurse
        assert c.post("/api/video/calls", json={"resident_id": "R-1"}).status_code == 404
    with s.client(s.token("admin")) as c:
        r = c.post("/api/users", json={"username": "x-screen", "password": "long-enough-1", "role": "resident_screen"})
        assert r.status_code in (409, 422), r.text  # only /api/video/screens makes them (bound)

    call = post_call(s, nurse_token, "R-1")
    with s.client(screen1["access_token"]) as c:
        turn = c.get("/api/video/turn", params={"call_id": call["id"]})
        assert turn.status_code == 200 and "iceServers" in turn.json()
    for token in (screen2["access_token"], s.token("family2"), s.token("nurse2")):
        with s.client(token) as c:
            assert c.get("/api/video/turn", params={"call_id": call["id"]}).status_code == 404
    # The one-time ticket opens the socket once.
    ws = connect(f"ws://127.0.0.1:{s.port}/ws/video?ticket={ticket}", open_timeout=10)
    assert '"hello"' in str(ws.recv(timeout=10))
    ws.close()
    with pytest.raises((ConnectionClosed, InvalidStatus)):
        again = connect(f"ws://127.0.0.1:{s.port}/ws/video?ticket={ticket}", open_timeout=10)
        again.recv(timeout=5)
    # Two calls to one resident at once: refused; a resident without a screen: refused.
    with s.client(nurse_token) as c:
        assert c.post("/api/video/calls", json={"resident_id": "R-1"}).status_code == 409
    with s.client(s.token("admin")) as c:
        assert c.post("/api/video/calls", json={"resident_id": "R-9"}).status_code == 404


def test_video_button_call_opens_on_acknowledge_and_ends_on_presence(video_hub: HubServer) -> None:
    import orjson

    from tests.support.mqtt import close_client, connect_client, publish_and_wait

    s = video_hub
    screen = resident_screen(s, "R-1")
    nurse_token = s.token("nurse")
    nurse, tablet = Signal(s, nurse_token), Signal(s, screen["access_token"])
    button = next(d for d in s.hub.registry._by_id if d.endswith("btn-1"))
    client = connect_client(s.mqtt_url, f"{button}-pub")

    def press(seq: int, action: str) -> None:
        payload = orjson.dumps({"ts": time.time(), "seq": seq, "action": action})
        publish_and_wait(client, f"care/v1/{button}/button", payload, qos=1)

    press(1, "call")
    with s.client(nurse_token) as c:
        deadline = time.monotonic() + 10
        alerts: list = []
        while not alerts and time.monotonic() < deadline:
            alerts = c.get("/api/alerts", params={"type": "call", "resident_id": "R-1"}).json()
            time.sleep(0.05)
        alert = alerts[0]
        assert alert["detail"]["video"] is True
        # Not before acknowledging: video is offered to whoever acknowledges.
        r = c.post("/api/video/calls", json={"resident_id": "R-1", "alert_id": alert["id"]})
        assert r.status_code == 409
        c.post(f"/api/alerts/{alert['id']}/ack").raise_for_status()
    call = post_call(s, nurse_token, "R-1", alert_id=alert["id"])
    assert call["kind"] == "button" and call["auto_answer"] is True
    nurse.send(type="attach", call_id=call["id"])
    tablet.wait("call", id=call["id"], state="ringing")
    tablet.send(type="accept", call_id=call["id"])
    nurse.wait("call", id=call["id"], state="answered")
    press(2, "presence")  # the caregiver is in the room: the video call ends
    ended = nurse.wait("call", id=call["id"], state="ended")["call"]
    assert ended["ended_by"] == "presence"
    close_client(client)
    nurse.close()
    tablet.close()


def test_checkin_schedules_and_missed_list(video_hub: HubServer) -> None:
    s = video_hub
    with s.client(s.token("nurse")) as c:
        r = c.put("/api/video/checkins/schedules/R-2", json={"weekdays": [3], "at_local": "10:00"})
        assert r.status_code == 200 and r.json()["weekdays"] == [3]
        assert c.put("/api/video/checkins/schedules/R-2", json={"weekdays": [8], "at_local": "10:00"}).status_code == 422
        assert c.put("/api/video/checkins/schedules/R-2", json={"weekdays": [1], "at_local": "25:00"}).status_code == 422
        assert [x["resident_id"] for x in c.get("/api/video/checkins/schedules").json()] == ["R-2"]
        # A new schedule has no past: nothing missed yet.
        assert c.get("/api/video/checkins", params={"missed": "true"}).json() == []
    with s.client(s.token("nurse2")) as c:  # another facility
        assert c.get("/api/video/checkins/schedules").json() == []
        assert c.put("/api/video/checkins/schedules/R-2", json={"weekdays": [3], "at_local": "10:00"}).status_code == 404
