"""Passwords, tokens and sign-in throttling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from care_hub import migrate
from care_hub.kernel import security
from care_hub.kernel.accounts import authenticate, create_user
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.security import (
    InvalidToken,
    LoginThrottle,
    hash_password,
    issue_token,
    read_token,
    verify_password,
)
from tests.conftest import PASSWORD, HubServer, demo_seed, make_backend, prepare_database


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


def test_throttle_limits_one_address_across_names() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for n in range(LoginThrottle.MAX_FAILURES_PER_ADDRESS):
        assert throttle.retry_after(f"name-{n}", "10.0.0.9") == 0
        throttle.failed(f"name-{n}", "10.0.0.9")
        now[0] += 1.0
    # Any name from there now waits until the oldest failure ages out; other addresses do not.
    assert throttle.retry_after("nurse", "10.0.0.9") == pytest.approx(
        LoginThrottle.WINDOW_S - LoginThrottle.MAX_FAILURES_PER_ADDRESS
    )
    assert throttle.retry_after("nurse", "10.0.0.1") == 0
    now[0] = LoginThrottle.WINDOW_S + 0.5  # the first failure has aged out, one attempt is free
    assert throttle.retry_after("nurse", "10.0.0.9") == 0
    # A right password takes back its own attempt only.
    throttle.failed("nurse", "10.0.0.9")
    throttle.succeeded("nurse", "10.0.0.9")
    assert throttle.retry_after("other", "10.0.0.9") == 0


async def test_password_checks_run_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While 10 failed sign-ins (5 unknown names, 5 wrong passwords) are checked, the loop keeps
    running: a coroutine ticks during every check, and no check runs on the loop's thread."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    async with factory() as session:
        await create_user(session=session, username="nurse", password=PASSWORD, role="admin")
        await session.commit()

    ticks = 0
    checks: list[tuple[int, int, int]] = []  # (thread, ticks at start, ticks at end)
    real_verify = security.verify_password

    def observed_verify(password_hash: str, password: str) -> bool:
        start = ticks
        ok = real_verify(password_hash, password)
        checks.append((threading.get_ident(), start, ticks))
        return ok

    monkeypatch.setattr(security, "verify_password", observed_verify)
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async def sign_in(username: str) -> object:
        async with factory() as session:
            return await authenticate(session=session, username=username, password="guess")

    ticking = asyncio.create_task(ticker())
    names = [f"nobody-{n}" for n in range(5)] + ["nurse"] * 5
    results = await asyncio.gather(*(sign_in(name) for name in names))
    stop.set()
    await ticking
    await engine.dispose()
    assert results == [None] * 10
    assert len(checks) == 10  # unknown names are checked too (against a dummy hash)
    loop_thread = threading.get_ident()
    assert all(thread != loop_thread for thread, _, _ in checks)
    assert all(end > start for _, start, end in checks)


def test_sign_in_spray_of_names_from_one_address_gets_429(hub_server: HubServer) -> None:
    limit = LoginThrottle.MAX_FAILURES_PER_ADDRESS
    with hub_server.client() as c:
        for _ in range(limit):
            name = f"guess-{uuid.uuid4().hex[:8]}"
            r = c.post("/api/auth/token", data={"username": name, "password": "guess"})
            assert r.status_code == 401
        r = c.post("/api/auth/token", data={"username": "nurse", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # A nurse at another address signs in as usual.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=hub_server.base_url, transport=transport, timeout=10) as c:
        r = c.post("/api/auth/token", data={"username": "nurse", "password": PASSWORD})
        assert r.status_code == 200


# Facility boundaries on admin input (issue 14).


def test_cross_facility_bindings_are_refused_with_422(hub_server: HubServer, prefix: str) -> None:
    """Facility 1 has R-1 and rooms 101/102 (seed); facility 2 gets a room and a resident."""
    with hub_server.client(hub_server.token("admin")) as c:
        room_b = c.post("/api/rooms", json={"facility_id": 2, "name": "B-1"}).json()["id"]
        r = c.post("/api/residents", json={"id": "RB-1", "name": "B", "facility_id": 2})
        assert r.status_code == 201
        room_a = c.get("/api/residents").json()[0]["room_id"]
        assert room_a is not None
        # A resident of B placed in a room of A.
        r = c.post(
            "/api/residents",
            json={"id": "RB-2", "name": "B", "facility_id": 2, "room_id": room_a},
        )
        assert r.status_code == 422, r.text
        # A device of A bound to a resident of B, at creation and by re-binding.
        body = {"id": f"{prefix}btn-x", "type": "button", "facility_id": 1, "resident_id": "RB-1"}
        assert c.post("/api/devices", json=body).status_code == 422
        body = {"id": f"{prefix}btn-x", "type": "button", "facility_id": 1, "room_id": room_b}
        assert c.post("/api/devices", json=body).status_code == 422
        rebind = c.post(f"/api/devices/{prefix}btn-1/bind", json={"resident_id": "RB-1"})
        assert rebind.status_code == 422
        assert (
            c.post(f"/api/devices/{prefix}btn-1/bind", json={"room_id": room_b}).status_code == 422
        )
        # Within one facility all of it is fine; unknown references stay conflicts (409).
        body = {"id": f"{prefix}btn-b", "type": "button", "facility_id": 2, "resident_id": "RB-1"}
        assert c.post("/api/devices", json=body).status_code == 201
        body = {"id": f"{prefix}btn-c", "type": "button", "facility_id": 2, "resident_id": "nobody"}
        assert c.post("/api/devices", json=body).status_code == 409
        r = c.post(
            "/api/residents",
            json={"id": "RB-3", "name": "B", "facility_id": 2, "room_id": room_b},
        )
        assert r.status_code == 201
        assert c.get(f"/api/devices/{prefix}btn-1").json()["resident_id"] == "R-1"


# No tokens or secrets in logs (issue 14).


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_no_token_ticket_or_password_hash_in_any_log_line(
    tmp_path: Path, request: pytest.FixtureRequest, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A real hub with uvicorn's access and error logs on: sign-in, sockets by token and by
    ticket, and a POST /api/users the database refuses (its statement held the argon2 hash)."""
    backend = make_backend("embedded", tmp_path, request)
    prepare_database(backend, demo_seed(prefix))
    with sqlite3.connect(backend.settings.db_url.split(":///", 1)[1]) as db:
        db.execute(
            "CREATE TRIGGER refuse_kin BEFORE INSERT ON users WHEN NEW.username = 'kin' "
            "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        )
    caplog.set_level(logging.DEBUG)
    server = HubServer(backend)  # uvicorn's logging config replaces handlers: add ours after
    handler = _Lines()
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error", "")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    server.start()
    try:
        token = server.token("admin")
        with server.client() as c:
            r = c.post("/api/auth/ws-ticket", headers={"Authorization": f"Bearer {token}"})
            ticket = r.json()["ticket"]
            c.get(f"/api/me?token={token}", headers={"Authorization": f"Bearer {token}"})
        for query in (f"token={token}&since=0", f"ticket={ticket}", f"ticket={ticket}"):
            with contextlib.suppress(Exception):
                ws_connect(f"{server.ws_url}?{query}", open_timeout=5).close()
        with server.client(token) as c:
            body = {"username": "kin", "password": "a-password-to-hash", "role": "admin"}
            with contextlib.suppress(httpx.HTTPError):
                assert c.post("/api/users", json=body).status_code == 500
        time.sleep(0.5)
    finally:
        server.stop()
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    # The test's own clients (httpx, httpcore, websockets.client) log what they send: not the hub.
    clients = ("httpx", "httpcore", "websockets.client")
    hub_records = [r for r in caplog.records if not r.name.startswith(clients)]
    lines = handler.lines + [logging.Formatter().format(r) for r in hub_records]
    text = "\n".join(lines)
    assert "WebSocket /ws/events?token=***" in text  # the socket lines are logged, redacted
    assert "refused by test" in text  # and the failed statement was logged
    for secret in (token, ticket, "$argon2", "a-password-to-hash"):
        assert secret not in text, secret
