"""Password hashing (argon2id, off the event loop), signed bearer tokens (JWT, HS256), sign-in throttle."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's OWASP-aligned defaults
ROLES = ("admin", "caregiver", "family")
TOKEN_ALGORITHM = "HS256"
# argon2id costs about 0.1-0.2 s of CPU and 64 MiB per check, by design. The checks run in a
# pool of their own, never on the event loop that ingests calls, and never in the default executor
# where ingest decodes its batches. One worker: one check at a time leaves the other core of a
# 2-core hub to the event loop, whatever the sign-in load (bench/signin_flood.py).
PASSWORD_WORKERS = 1
# Checks allowed to wait for that worker; more are refused (PasswordChecksBusy -> 503) rather
# than queued for minutes behind a flood while each holds a request open.
MAX_WAITING_CHECKS = 32

_T = TypeVar("_T")
_pool = ThreadPoolExecutor(max_workers=PASSWORD_WORKERS, thread_name_prefix="password-check")
_waiting = 0
_waiting_lock = threading.Lock()  # hubs of several event loops (tests) share the pool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class PasswordChecksBusy(Exception):
    """Too many password checks already waiting: refuse this one for now."""


async def _in_pool(work: Callable[[], _T]) -> _T:
    global _waiting
    with _waiting_lock:
        if _waiting >= MAX_WAITING_CHECKS:
            raise PasswordChecksBusy
        _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, work)
    finally:
        with _waiting_lock:
            _waiting -= 1


async def hash_password_off_loop(password: str) -> str:
    return await _in_pool(lambda: hash_password(password))


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    return await _in_pool(lambda: verify_password(password_hash, password))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    role: str
    expires_at: float


class InvalidToken(Exception):
    pass


def issue_token(*, user_id: int, role: str, secret: str, ttl_s: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_token(token: str, *, secret: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[TOKEN_ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return TokenClaims(
            user_id=int(claims["sub"]), role=str(claims["role"]), expires_at=float(claims["exp"])
        )
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc


class LoginThrottle:
    """Slows password guessing: after MAX_FAILURES failed sign-ins for one (username, client
    address), or MAX_FAILURES_PER_ADDRESS for any names from one address, within WINDOW_S,
    further attempts from there are refused until enough of those failures have aged out.

    Keyed by address as well as name, so a guesser elsewhere cannot lock a nurse out of the wall
    screen at the station; the per-address limit stops one address spraying many names (each a
    full argon2 check). An attempt counts as failed from the moment it is let through, so
    concurrent guesses cannot all pass the check before the first fails. In memory: one hub
    process's view (enough to make guessing slow).
    """

    MAX_FAILURES = 5
    # A station where several nurses mistype stays well under it; a name spray hits it in seconds.
    MAX_FAILURES_PER_ADDRESS = 20
    WINDOW_S = 300.0
    # Bound on remembered keys under a spray of names or addresses.
    MAX_KEYS = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._by_address: dict[str, deque[float]] = {}

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this pair may try again (0: now)."""
        now = self._clock()
        return max(
            self._wait(self._failures, (username, address), self.MAX_FAILURES, now),
            self._wait(self._by_address, address, self.MAX_FAILURES_PER_ADDRESS, now),
        )

    def _wait(self, book: dict[Any, deque[float]], key: object, limit: int, now: float) -> float:
        times = book.get(key)
        if times is None:
            return 0.0
        while times and now - times[0] >= self.WINDOW_S:
            times.popleft()
        if not times:
            del book[key]
            return 0.0
        if len(times) < limit:
            return 0.0
        # Free again once all but limit - 1 of these failures have aged out.
        return self.WINDOW_S - (now - times[len(times) - limit])

    def failed(self, username: str, address: str) -> None:
        if len(self._failures) > self.MAX_KEYS:
            self._failures.clear()
        if len(self._by_address) > self.MAX_KEYS:
            self._by_address.clear()
        now = self._clock()
        self._failures.setdefault((username, address), deque()).append(now)
        self._by_address.setdefault(address, deque()).append(now)

    def succeeded(self, username: str, address: str) -> None:
        """The right password: this name's failures are forgiven, and the attempt counted as
        failed on the address is taken back (the address's other failures stand)."""
        self._failures.pop((username, address), None)
        times = self._by_address.get(address)
        if times:
            times.pop()
