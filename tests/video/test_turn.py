"""TURN credentials in coturn's REST-API scheme (video.turn)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from video.turn import TURN_TTL_S, ice_servers, split_urls, turn_credential


def test_credential_is_coturns_shared_secret_scheme() -> None:
    username, credential = turn_credential(secret="s3cret", user="call7-u3", now=1_700_000_000.7)
    assert username == f"{1_700_000_000 + TURN_TTL_S}:call7-u3"
    expected = base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()
    assert credential == expected
    # A known vector: HMAC-SHA1("secret", "1600000000:alice"), as coturn's turnutils would check it.
    _, known = turn_credential(secret="secret", user="alice", now=1_600_000_000 - TURN_TTL_S)
    assert known == base64.b64encode(
        hmac.new(b"secret", b"1600000000:alice", hashlib.sha1).digest()
    ).decode()
    assert len(base64.b64decode(known)) == 20


def test_ice_servers_for_the_browser() -> None:
    servers = ice_servers(
        stun_urls="stun:turn.example.org:3478",
        turn_urls="turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349",
        secret="x",
        user="u",
        now=100.0,
    ).wire()
    assert servers["iceServers"][0] == {"urls": ["stun:turn.example.org:3478"]}
    turn = servers["iceServers"][1]
    assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
    assert turn["username"] == f"{100 + TURN_TTL_S}:u" and turn["credential"]
    assert servers["expires_at"] == 100 + TURN_TTL_S
    # No secret or no TURN URL: STUN only (a LAN), never a TURN entry without credentials.
    lan = ice_servers(stun_urls="", turn_urls="turn:x:3478", secret=None, user="u", now=1.0).wire()
    assert lan["iceServers"] == [] and lan["expires_at"] is None
    assert split_urls(" a,b  c ") == ("a", "b", "c")
