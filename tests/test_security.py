"""Passwords, tokens and sign-in throttling."""

from __future__ import annotations

import pytest

from care_hub.kernel.security import (
    InvalidToken,
    LoginThrottle,
    hash_password,
    issue_token,
    read_token,
    verify_password,
)
from tests.conftest import PASSWORD, HubServer


def test_passwords_are_argon2_hashed_and_verified() -> None:
    h = hash_password("s3cret-enough")
    assert h.startswith("$argon2id$") and "s3cret" not in h
    assert verify_password(h, "s3cret-enough")
    assert not verify_password(h, "wrong")
    assert not verify_password("not a hash", "s3cret-enough")


def test_tokens_are_signed_and_expire() -> None:
    t = issue_token(user_id=7, role="caregiver", secret="k" * 32, ttl_s=60)
    claims = read_token(t, secret="k" * 32)
    assert (claims.user_id, claims.role) == (7, "caregiver")
    with pytest.raises(InvalidToken):
        read_token(t, secret="another-key-that-is-long-enough-for-hs256")
    with pytest.raises(InvalidToken):
        read_token(
            issue_token(user_id=7, role="admin", secret="k" * 32, ttl_s=-10), secret="k" * 32
        )


def test_throttle_blocks_after_repeated_failures_per_name_and_address() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(LoginThrottle.MAX_FAILURES):
        assert throttle.retry_after("nurse", "10.0.0.9") == 0
        throttle.failed("nurse", "10.0.0.9")
    assert throttle.retry_after("nurse", "10.0.0.9") == pytest.approx(LoginThrottle.WINDOW_S)
    assert throttle.retry_after("nurse", "10.0.0.1") == 0  # the station's screen is not locked out
    now[0] += LoginThrottle.WINDOW_S + 1
    assert throttle.retry_after("nurse", "10.0.0.9") == 0


def test_sign_in_is_refused_with_429_after_five_wrong_passwords(hub_server: HubServer) -> None:
    with hub_server.client() as c:
        for _ in range(LoginThrottle.MAX_FAILURES):
            r = c.post("/api/auth/token", data={"username": "admin", "password": "guess"})
            assert r.status_code == 401
        r = c.post("/api/auth/token", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        # Other accounts are unaffected.
        assert (
            c.post("/api/auth/token", data={"username": "nurse", "password": PASSWORD}).status_code
            == 200
        )
