"""The call state machine and signalling rules (video.calls): bad, out-of-order and misdirected
messages are errors with stable codes, never exceptions; timeouts ring out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from video import calls as c

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"
NURSE, SCREEN, SCREEN2, FAMILY, STRANGER = 10, 20, 21, 30, 99


def make(**kw: Any) -> c.Call:
    base: dict[str, Any] = dict(
        id=1,
        kind="staff",
        facility_id=1,
        resident_id="R-1",
        resident_name="Resident 1",
        caller_user_id=NURSE,
        caller_name="nurse",
        callee_user_ids=frozenset({SCREEN, SCREEN2}),
        family_user_ids=frozenset({FAMILY}),
        started_at=1000.0,
        ring_until=1045.0,
    )
    base.update(kw)
    return c.Call(**base)


nurse = c.Peer("p1", NURSE, "caregiver")
screen = c.Peer("p2", SCREEN, "resident_screen")
screen2 = c.Peer("p3", SCREEN2, "resident_screen")
family = c.Peer("p4", FAMILY, "family")
stranger = c.Peer("p5", STRANGER, "family")


def msg(kind: str, **kw: Any) -> c.Message:
    parsed = c.parse(orjson.dumps({"type": kind, "call_id": 1, **kw}))
    assert isinstance(parsed, c.Message), parsed
    return parsed


def ok(result: c.Step | c.Error) -> c.Step:
    assert isinstance(result, c.Step), result
    return result


def err(result: c.Step | c.Error) -> str:
    assert isinstance(result, c.Error), result
    return result.code


def answered() -> c.Call:
    call = ok(c.step(make(), nurse, msg("attach"), 1001)).call
    return ok(c.step(call, screen, msg("accept"), 1002)).call


def test_ring_answer_signal_hang_up() -> None:
    call = answered()
    assert call.state == c.ANSWERED and call.answered_by_user_id == SCREEN
    assert call.parties() == {"p1": NURSE, "p2": SCREEN}
    step = ok(c.step(call, nurse, msg("offer", to="p2", sdp=SDP), 1003))
    assert step.relay == (("p2", {"type": "offer", "call_id": 1, "from": "p1", "sdp": SDP}),)
    call = step.call
    call = ok(c.step(call, nurse, msg("ice", to="p2", candidate={"candidate": "candidate:1", "sdpMid": "0"}), 1003)).call
    step = ok(c.step(call, screen, msg("answer", to="p1", sdp=SDP), 1004))
    assert step.relay[0][0] == "p1"
    ended = ok(c.step(step.call, screen, msg("hangup"), 1064))
    assert ended.call.state == c.ENDED and ended.audit == c.ENDED
    assert ended.call.duration_s == pytest.approx(62.0)


@pytest.mark.parametrize(
    ("peer", "kind", "code"),
    [
        (stranger, "accept", "not_a_party"),
        (nurse, "accept", "not_a_party"),  # the caller cannot answer for the resident
        (family, "decline", "not_a_party"),
        (screen, "attach", "not_a_party"),
        (family, "join", "out_of_order"),  # nobody to join while it rings
        (stranger, "join", "not_a_party"),
    ],
)
def test_wrong_party_while_ringing(peer: c.Peer, kind: str, code: str) -> None:
    assert err(c.step(make(), peer, msg(kind), 1001)) == code


def test_signalling_before_answer_is_out_of_order() -> None:
    call = ok(c.step(make(), nurse, msg("attach"), 1001)).call
    # the screen is not a party yet, and no signalling passes before the call is answered
    assert err(c.step(call, nurse, msg("offer", to="p2", sdp=SDP), 1002)) == "out_of_order"


def test_answer_without_offer_and_ice_without_offer() -> None:
    call = answered()
    assert err(c.step(call, screen, msg("answer", to="p1", sdp=SDP), 1003)) == "out_of_order"
    assert err(c.step(call, screen, msg("ice", to="p1", candidate=None), 1003)) == "out_of_order"
    # an answer to one's own offer is out of order too
    call = ok(c.step(call, nurse, msg("offer", to="p2", sdp=SDP), 1003)).call
    assert err(c.step(call, nurse, msg("answer", to="p2", sdp=SDP), 1003)) == "out_of_order"


def test_glare_and_misdirected_signals() -> None:
    call = ok(c.step(answered(), nurse, msg("offer", to="p2", sdp=SDP), 1003)).call
    assert err(c.step(call, screen, msg("offer", to="p1", sdp=SDP), 1003)) == "glare"
    assert err(c.step(call, nurse, msg("offer", to="p1", sdp=SDP), 1003)) == "unknown_peer"
    assert err(c.step(call, nurse, msg("offer", to="p9", sdp=SDP), 1003)) == "unknown_peer"
    # the resident's second screen, which did not answer, is no party
    assert err(c.step(call, screen2, msg("ice", to="p1", candidate=None), 1003)) == "not_a_party"
    assert err(c.step(call, screen2, msg("accept"), 1003)) == "out_of_order"


def test_family_joins_only_when_allowed_and_then_offers() -> None:
    call = answered()
    assert err(c.step(call, stranger, msg("join"), 1003)) == "not_a_party"
    closed = make(family_user_ids=frozenset())
    closed = ok(c.step(ok(c.step(closed, nurse, msg("attach"), 1)).call, screen, msg("accept"), 2)).call
    assert err(c.step(closed, family, msg("join"), 3)) == "not_a_party"
    joined = ok(c.step(call, family, msg("join"), 1003))
    assert joined.audit == "joined" and joined.call.guests == {"p4": FAMILY}
    step = ok(c.step(joined.call, family, msg("offer", to="p2", sdp=SDP), 1004))
    assert step.relay[0][0] == "p2"
    left = ok(c.step(step.call, family, msg("hangup"), 1005))
    assert left.call.state == c.ANSWERED and left.call.guests == {} and left.audit == "left"
    assert all("p4" not in pair for pair in left.call.links)


def test_outcomes_decline_cancel_timeout() -> None:
    declined = ok(c.step(make(), screen2, msg("decline"), 1010))
    assert declined.call.state == c.DECLINED and declined.call.ended_by == f"user:{SCREEN2}"
    attached = ok(c.step(make(), nurse, msg("attach"), 1001)).call
    cancelled = ok(c.step(attached, nurse, msg("hangup"), 1005))
    assert cancelled.call.state == c.CANCELLED
    assert c.expire(make(), 1044.9).call.state == c.RINGING
    timed_out = c.expire(make(), 1045.0)
    assert timed_out.call.state == c.NO_ANSWER and timed_out.call.ended_by == "timeout"
    assert c.expire(answered(), 2000).call.state == c.ANSWERED
    # nothing happens to a call that is over
    assert err(c.step(timed_out.call, screen, msg("accept"), 1046)) == "call_over"
    assert err(c.step(timed_out.call, nurse, msg("offer", to="p2", sdp=SDP), 1046)) == "not_a_party"


def test_lost_connections_and_hub_endings() -> None:
    attached = ok(c.step(make(), nurse, msg("attach"), 1001)).call
    detached = c.peer_gone(attached, nurse, 1002)
    assert detached.call.state == c.RINGING and detached.call.caller_peer is None
    gone = c.peer_gone(answered(), screen, 1010)
    assert gone.call.state == c.ENDED and gone.call.ended_by == "connection_lost"
    assert c.end_by(answered(), "presence", 1020).call.ended_by == "presence"
    assert c.end_by(make(), "presence", 1020).call.state == c.CANCELLED


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", "bad_json"),
        (b"[1, 2]", "bad_message"),
        (b'{"type": "shout", "call_id": 1}', "unknown_type"),
        (b'{"type": "accept"}', "bad_message"),
        (b'{"type": "accept", "call_id": true}', "bad_message"),
        (b'{"type": "accept", "call_id": -4}', "bad_message"),
        (b'{"type": "offer", "call_id": 1, "sdp": "v=0"}', "bad_message"),
        (b'{"type": "offer", "call_id": 1, "to": "p1", "sdp": 5}', "bad_sdp"),
        (b'{"type": "offer", "call_id": 1, "to": "p1", "sdp": "hello"}', "bad_sdp"),
        (b'{"type": "ice", "call_id": 1, "to": "p1", "candidate": {"candidate": 1}}', "bad_candidate"),
        (b'{"type": "ice", "call_id": 1, "to": "p1", "candidate": {"x": "y"}}', "bad_candidate"),
    ],
)
def test_bad_messages(raw: bytes, code: str) -> None:
    assert err(c.parse(raw)) == code


def test_oversized_sdp_and_message() -> None:
    big = "v=0\r\n" + "a=x\r\n" * (c.MAX_SDP_CHARS // 5)
    assert err(c.parse(orjson.dumps({"type": "offer", "call_id": 1, "to": "p1", "sdp": big}))) == "sdp_too_large"
    assert err(c.parse(b" " * (c.MAX_MESSAGE_BYTES + 1))) == "too_large"


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_parse_never_raises(raw: bytes) -> None:
    assert isinstance(c.parse(raw), c.Message | c.Error)


@given(
    st.dictionaries(
        st.sampled_from(["type", "call_id", "to", "sdp", "candidate"]),
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20), st.sampled_from(c.CLIENT_TYPES)),
    ),
    st.sampled_from([nurse, screen, screen2, family, stranger]),
)
def test_step_never_raises(data: dict[str, Any], peer: c.Peer) -> None:
    parsed = c.parse(orjson.dumps(data))
    if isinstance(parsed, c.Message) and parsed.type != "ping":
        for call in (make(), answered()):
            assert isinstance(c.step(call, peer, parsed, 1003), c.Step | c.Error)
