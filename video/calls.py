"""The call state machine and signalling rules: pure functions over plain data, no I/O.

A call rings the resident's screens (ringing) and ends answered -> ended, declined, no_answer
(nobody answered within the ring timeout) or cancelled (the caller hung up first). Parties are
sockets ("peers"), not users: a nurse signed in on the wall and on a phone is two sockets, and
only the one that placed or took the call is a party. Offers, answers and ICE candidates are
relayed only between two parties of an answered call, in order (an answer needs an offer from
the other side, a candidate needs an offer between the two). Every bad message is an
`Error` with a stable code, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

RINGING = "ringing"
ANSWERED = "answered"
DECLINED = "declined"
NO_ANSWER = "no_answer"
CANCELLED = "cancelled"
ENDED = "ended"
TERMINAL = frozenset({DECLINED, NO_ANSWER, CANCELLED, ENDED})

# Kinds of call: staff ring a resident; a resident's video-call button, opened by whoever
# acknowledged its alert; a scheduled check-in.
KINDS = ("staff", "button", "checkin")

# A phone rings for about 30-60 s before a carrier gives up; 45 s leaves an older person time to
# reach the screen without a nurse waiting at the wall for minutes.
RING_TIMEOUT_S = 45.0
# One websocket message (the client's whole JSON): an SDP offer with audio, video and a dozen
# host/srflx/relay candidates is 4-10 KB; 64 KiB mirrors the device contract's payload limit.
MAX_MESSAGE_BYTES = 65_536
# An SDP body: generous for Chrome and Firefox offers (several codecs, simulcast), far below
# anything that would let one socket hog the hub's memory.
MAX_SDP_CHARS = 32_768
# One ICE candidate line (RFC 8839) is well under 300 characters.
MAX_CANDIDATE_CHARS = 1_024
MAX_ID_CHARS = 64

CLIENT_TYPES = ("attach", "accept", "decline", "hangup", "join", "offer", "answer", "ice", "ping")


@dataclass(frozen=True, slots=True)
class Error:
    """A refused message: `code` is stable (tests, clients), `message` says why in English."""

    code: str
    message: str
    call_id: int | None = None

    def wire(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message, "call_id": self.call_id}


@dataclass(frozen=True, slots=True)
class Message:
    """A client message that parsed: its type, call and (for signalling) target and payload."""

    type: str
    call_id: int | None = None
    to: str | None = None
    sdp: str | None = None
    candidate: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Peer:
    """One socket: its id on the wire, its user and role."""

    id: str
    user_id: int
    role: str


@dataclass(frozen=True, slots=True)
class Call:
    id: int
    kind: str
    facility_id: int
    resident_id: str
    resident_name: str
    caller_user_id: int
    caller_name: str
    # The resident's screens: any of them may answer while it rings.
    callee_user_ids: frozenset[int]
    # Family members linked to the resident, if the resident lets family join (else empty).
    family_user_ids: frozenset[int]
    started_at: float
    ring_until: float
    auto_answer: bool = False
    alert_id: int | None = None
    state: str = RINGING
    caller_peer: str | None = None
    callee_peer: str | None = None
    answered_by_user_id: int | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    ended_by: str | None = None
    guests: Mapping[str, int] = field(default_factory=dict)  # peer -> family user id
    names: Mapping[int, str] = field(default_factory=dict)  # user id -> display name
    # Negotiation per pair of peers: (sorted pair) -> (offering peer, "offered" | "answered").
    links: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state not in TERMINAL

    @property
    def duration_s(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.answered_at)

    def parties(self) -> dict[str, int]:
        """Peers in the call now (peer -> user id)."""
        out: dict[str, int] = {}
        if self.caller_peer:
            out[self.caller_peer] = self.caller_user_id
        if self.callee_peer and self.answered_by_user_id is not None:
            out[self.callee_peer] = self.answered_by_user_id
        out.update(self.guests)
        return out

    def audience(self) -> frozenset[int]:
        """Users told of this call's state: caller, resident screens, family who may join."""
        return frozenset({self.caller_user_id, *self.callee_user_ids, *self.family_user_ids})


@dataclass(frozen=True, slots=True)
class Step:
    """What a message did: the new call, messages to relay to peers, and whether the call's
    state (as the audience sees it) changed."""

    call: Call
    relay: tuple[tuple[str, dict[str, Any]], ...] = ()
    changed: bool = False
    audit: str | None = None  # the audit action, when one is due


def public(call: Call) -> dict[str, Any]:
    """The call as every member of its audience may see it (no SDP, no candidates)."""
    parties = [
        {"peer": peer, "user_id": uid, "role": _role_of(call, peer), "name": call.names.get(uid, "")}
        for peer, uid in call.parties().items()
    ]
    return {
        "id": call.id,
        "kind": call.kind,
        "state": call.state,
        "resident_id": call.resident_id,
        "resident_name": call.resident_name,
        "caller_user_id": call.caller_user_id,
        "caller_name": call.caller_name,
        "alert_id": call.alert_id,
        "auto_answer": call.auto_answer,
        "family_may_join": bool(call.family_user_ids),
        "started_at": call.started_at,
        "ring_until": call.ring_until,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "ended_by": call.ended_by,
        "duration_s": call.duration_s,
        "parties": parties,
    }


def _role_of(call: Call, peer: str) -> str:
    if peer == call.caller_peer:
        return "caller"
    if peer == call.callee_peer:
        return "resident"
    return "family"


# ---- parsing --------------------------------------------------------------------------------


def parse(raw: str | bytes) -> Message | Error:
    """A client's websocket text as a `Message`, or an `Error` saying what is wrong with it."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Error("too_large", f"message over {MAX_MESSAGE_BYTES} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Error("bad_json", "not JSON")
    if not isinstance(data, dict):
        return Error("bad_message", "a message is a JSON object")
    kind = data.get("type")
    if kind not in CLIENT_TYPES:
        return Error("unknown_type", f"type must be one of {', '.join(CLIENT_TYPES)}")
    if kind == "ping":
        return Message("ping")
    call_id = data.get("call_id")
    if isinstance(call_id, bool) or not isinstance(call_id, int) or not 0 < call_id < 2**63:
        return Error("bad_message", "call_id must be a positive integer")
    if kind not in ("offer", "answer", "ice"):
        return Message(kind, call_id)
    to = data.get("to")
    if not isinstance(to, str) or not 0 < len(to) <= MAX_ID_CHARS:
        return Error("bad_message", "to must be a peer id", call_id)
    if kind == "ice":
        candidate = data.get("candidate")
        if candidate is not None and not _valid_candidate(candidate):
            return Error("bad_candidate", "candidate must be an RTCIceCandidateInit or null", call_id)
        return Message(kind, call_id, to=to, candidate=candidate)
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        return Error("bad_sdp", "sdp must be a non-empty string", call_id)
    if len(sdp) > MAX_SDP_CHARS:
        return Error("sdp_too_large", f"sdp over {MAX_SDP_CHARS} characters", call_id)
    if "\x00" in sdp or not sdp.startswith("v=0"):
        return Error("bad_sdp", "sdp must be a session description (starts with v=0)", call_id)
    return Message(kind, call_id, to=to, sdp=sdp)


def _valid_candidate(candidate: Any) -> bool:
    if not isinstance(candidate, dict) or set(candidate) - {
        "candidate",
        "sdpMid",
        "sdpMLineIndex",
        "usernameFragment",
    }:
        return False
    text = candidate.get("candidate")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS or "\x00" in text:
        return False
    mid, index = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
    frag = candidate.get("usernameFragment")
    return (
        (mid is None or (isinstance(mid, str) and len(mid) <= MAX_ID_CHARS))
        and (index is None or (isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 64))
        and (frag is None or (isinstance(frag, str) and len(frag) <= 256))
    )


# ---- transitions ----------------------------------------------------------------------------


def step(call: Call, peer: Peer, msg: Message, now: float) -> Step | Error:
    """Apply one client message from `peer` to `call`."""
    if msg.type in ("offer", "answer", "ice"):
        return _signal(call, peer, msg)
    if not call.active:
        return Error("call_over", f"the call is {call.state}", call.id)
    if msg.type == "attach":
        return _attach(call, peer)
    if msg.type == "accept":
        return _accept(call, peer, now)
    if msg.type == "decline":
        if peer.user_id not in call.callee_user_ids or call.state != RINGING:
            return _not_yours(call, "only the resident's screen may decline a ringing call")
        return Step(_end(call, DECLINED, now, f"user:{peer.user_id}"), changed=True, audit=DECLINED)
    if msg.type == "join":
        return _join(call, peer)
    if msg.type == "hangup":
        return hang_up(call, peer, now)
    return Error("unknown_type", f"{msg.type} is not a call action", call.id)


def _not_yours(call: Call, why: str) -> Error:
    return Error("not_a_party", why, call.id)


def _attach(call: Call, peer: Peer) -> Step | Error:
    """The caller's socket claims the calling end (after `POST /api/video/calls`)."""
    if peer.user_id != call.caller_user_id:
        return _not_yours(call, "only the caller may attach to a call")
    if call.caller_peer == peer.id:
        return Step(call)
    if call.caller_peer is not None and call.state == ANSWERED:
        return Error("already_attached", "the call is already open on another screen", call.id)
    return Step(replace(call, caller_peer=peer.id), changed=True)


def _accept(call: Call, peer: Peer, now: float) -> Step | Error:
    if peer.user_id not in call.callee_user_ids:
        return _not_yours(call, "only the resident's screen may answer")
    if call.state != RINGING:
        return Error("out_of_order", f"cannot answer a call that is {call.state}", call.id)
    answered = replace(
        call, state=ANSWERED, callee_peer=peer.id, answered_by_user_id=peer.user_id, answered_at=now
    )
    return Step(answered, changed=True, audit=ANSWERED)


def _join(call: Call, peer: Peer) -> Step | Error:
    if peer.user_id not in call.family_user_ids:
        return _not_yours(call, "the resident has not let you join this call")
    if call.state != ANSWERED:
        return Error("out_of_order", f"cannot join a call that is {call.state}", call.id)
    if peer.id in call.guests:
        return Step(call)
    return Step(replace(call, guests={**call.guests, peer.id: peer.user_id}), changed=True, audit="joined")


def hang_up(call: Call, peer: Peer, now: float) -> Step | Error:
    """A party hangs up (or its socket went away): cancel, decline, end, or a guest leaves."""
    if not call.active:
        return Step(call)
    if peer.id in call.guests:
        return _leave(call, peer.id)
    actor = f"user:{peer.user_id}"
    if call.state == RINGING:
        if peer.user_id == call.caller_user_id and call.caller_peer in (None, peer.id):
            return Step(_end(call, CANCELLED, now, actor), changed=True, audit=CANCELLED)
        if peer.user_id in call.callee_user_ids:
            return Step(_end(call, DECLINED, now, actor), changed=True, audit=DECLINED)
        return _not_yours(call, "you are not in this call")
    if peer.id in (call.caller_peer, call.callee_peer):
        return Step(_end(call, ENDED, now, actor), changed=True, audit=ENDED)
    return _not_yours(call, "you are not in this call")


def peer_gone(call: Call, peer: Peer, now: float) -> Step:
    """A socket closed: if it was a party of an answered call, the call ends (or the guest
    leaves); a caller's socket closing while it rings only detaches it (timeout still applies)."""
    if not call.active:
        return Step(call)
    if peer.id in call.guests:
        return _leave(call, peer.id)
    if call.state == RINGING and peer.id == call.caller_peer:
        return Step(replace(call, caller_peer=None), changed=True)
    if call.state == ANSWERED and peer.id in (call.caller_peer, call.callee_peer):
        return Step(_end(call, ENDED, now, "connection_lost"), changed=True, audit=ENDED)
    return Step(call)


def expire(call: Call, now: float) -> Step:
    """Nobody answered within the ring timeout: no_answer."""
    if call.state == RINGING and now >= call.ring_until:
        return Step(_end(call, NO_ANSWER, now, "timeout"), changed=True, audit=NO_ANSWER)
    return Step(call)


def end_by(call: Call, reason: str, now: float) -> Step:
    """The hub ends a call (staff presence in the room, the alert resolved, shutdown)."""
    if not call.active:
        return Step(call)
    outcome = ENDED if call.state == ANSWERED else CANCELLED
    return Step(_end(call, outcome, now, reason), changed=True, audit=outcome)


def _leave(call: Call, peer_id: str) -> Step:
    guests = {p: u for p, u in call.guests.items() if p != peer_id}
    links = {pair: v for pair, v in call.links.items() if peer_id not in pair}
    return Step(replace(call, guests=guests, links=links), changed=True, audit="left")


def _end(call: Call, state: str, now: float, by: str) -> Call:
    return replace(call, state=state, ended_at=now, ended_by=by, links={})


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _signal(call: Call, peer: Peer, msg: Message) -> Step | Error:
    parties = call.parties()
    if parties.get(peer.id) != peer.user_id:
        return _not_yours(call, "you are not in this call")
    if call.state != ANSWERED:
        return Error("out_of_order", f"no {msg.type} while the call is {call.state}", call.id)
    assert msg.to is not None  # parse() guarantees it for offer/answer/ice
    if msg.to == peer.id or msg.to not in parties:
        return Error("unknown_peer", "to must be another party of this call", call.id)
    pair = _pair(peer.id, msg.to)
    link = call.links.get(pair)
    out: dict[str, Any] = {"type": msg.type, "call_id": call.id, "from": peer.id}
    if msg.type == "offer":
        if link is not None and link[1] == "offered" and link[0] != peer.id:
            return Error("glare", "the other side has already sent an offer: answer it", call.id)
        out["sdp"] = msg.sdp
        links = {**call.links, pair: (peer.id, "offered")}
        return Step(replace(call, links=links), relay=((msg.to, out),))
    if msg.type == "answer":
        if link is None or link[1] != "offered" or link[0] != msg.to:
            return Error("out_of_order", "an answer needs an offer from that peer first", call.id)
        out["sdp"] = msg.sdp
        links = {**call.links, pair: (link[0], "answered")}
        return Step(replace(call, links=links), relay=((msg.to, out),))
    if link is None:
        return Error("out_of_order", "ICE candidates need an offer between you first", call.id)
    out["candidate"] = msg.candidate
    return Step(call, relay=((msg.to, out),))
