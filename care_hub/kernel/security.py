"""Password hashing (argon2id, off the event loop), signed bearer tokens (JWT, HS256) and
one-time websocket tickets, sign-in throttle, and redaction of secrets from log lines."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
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
# Roles of devices bound to one resident (video/: a resident's room or home screen). Created by
# their own admin route, never by `POST /api/users`; such a token is refused by every route but
# the few made for it (kernel.deps `AnyPrincipal`).
RESIDENT_SCREEN_ROLE = "resident_screen"
DEVICE_ROLES = (RESIDENT_SCREEN_ROLE,)
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
    # The user's token_version when it was issued: bumping the column (password change,
    # deactivation, "sign out everywhere") revokes every token and socket issued before.
    token_version: int = 0


class InvalidToken(Exception):
    pass


# `typ` claims keep the two kinds of signed strings apart: a bearer token is not a ticket and a
# ticket (30 s, one use) is never accepted as a bearer token.
ACCESS_TOKEN_TYPE = "access"
TICKET_TYPE = "ws-ticket"
# A websocket ticket is fetched right before the socket opens: 30 s covers a slow handshake.
TICKET_TTL_S = 30


def issue_token(*, user_id: int, role: str, secret: str, ttl_s: int, token_version: int = 0) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + ttl_s,
        "ver": token_version,
        "typ": ACCESS_TOKEN_TYPE,
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def _decode(token: str, secret: str) -> dict[str, Any]:
    return jwt.decode(
        token, secret, algorithms=[TOKEN_ALGORITHM], options={"require": ["exp", "sub"]}
    )


def read_token(token: str, *, secret: str) -> TokenClaims:
    try:
        claims = _decode(token, secret)
        # Tokens from before `typ` existed have none; a ticket is refused here.
        if claims.get("typ", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token")
        return TokenClaims(
            user_id=int(claims["sub"]),
            role=str(claims["role"]),
            expires_at=float(claims["exp"]),
            token_version=int(claims.get("ver", 0)),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class TicketClaims:
    ticket_id: str
    user_id: int
    token_version: int
    # When the bearer token the ticket was issued for expires: the socket closes then (4401).
    session_expires_at: float


def issue_ticket(
    claims: TokenClaims, *, secret: str, ttl_s: int = TICKET_TTL_S
) -> tuple[str, float]:
    """A signed one-time ticket for `/ws/events?ticket=`, bound to the user and token version.

    Returns (ticket, expires_at). It never outlives the token it was issued for.
    """
    now = time.time()
    expires_at = min(now + ttl_s, claims.expires_at)
    ticket = jwt.encode(
        {
            "sub": str(claims.user_id),
            "ver": claims.token_version,
            "sx": claims.expires_at,
            "exp": expires_at,
            "jti": secrets.token_urlsafe(16),
            "typ": TICKET_TYPE,
        },
        secret,
        algorithm=TOKEN_ALGORITHM,
    )
    return ticket, expires_at


def read_ticket(ticket: str, *, secret: str) -> TicketClaims:
    try:
        claims = _decode(ticket, secret)
        if claims.get("typ") != TICKET_TYPE:
            raise InvalidToken("not a websocket ticket")
        return TicketClaims(
            ticket_id=str(claims["jti"]),
            user_id=int(claims["sub"]),
            token_version=int(claims["ver"]),
            session_expires_at=float(claims["sx"]),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


class UsedTickets:
    """Ticket ids already redeemed in this process, kept until the ticket would have expired.

    One hub process's memory: with several processes behind one address a ticket could be used
    once per process within its 30 s; each use still needs the right user and token version.
    """

    # Bound under a flood of ticket requests; tickets live 30 s, so this is far above real use.
    MAX_REMEMBERED = 100_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._used: dict[str, float] = {}

    def redeem(self, ticket_id: str, *, expires_at: float) -> bool:
        """True the first time a ticket id is seen (and it has not expired), False after."""
        now = self._clock()
        if len(self._used) > self.MAX_REMEMBERED // 2:
            self._used = {k: t for k, t in self._used.items() if t > now}
        if ticket_id in self._used or len(self._used) >= self.MAX_REMEMBERED:
            return False
        self._used[ticket_id] = expires_at
        return True


# Secrets that must never reach a log line: query-string credentials, Authorization headers,
# signed tokens (JWTs start with a base64 '{"'), argon2 hashes, passwords in URLs
# (nats://hub:<password>@host, mqtt://user:<password>@host: how the settings take them).
_REDACTIONS = (
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", re.I), r"\1***@"),
    (re.compile(r"((?:access_)?token|ticket|password)=[^&\s\"']+", re.I), r"\1=***"),
    (
        re.compile(r"(authorization[\"']?\s*[:=,]\s*[\"']?)(?:bearer\s+)?[^\s\"',)]+", re.I),
        r"\1***",
    ),
    (re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]+", re.I), "Bearer ***"),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "***"),
    (re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=$,.-]+"), "***"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message, arguments and traceback with every secret replaced by ***.

    Arguments are redacted one by one (uvicorn's access formatter unpacks them as a tuple).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _redact_arg(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, type(None))):
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


# Loggers whose lines carry request paths (uvicorn logs `/ws/events?token=...`) or exceptions.
REDACTED_LOGGERS = (
    "uvicorn.access",
    "uvicorn.error",
    "uvicorn",
    "care_hub",
    "fastapi",
    "sqlalchemy",
    "aiosqlite",
)
# aiosqlite logs every statement with its parameters (password hashes, names) at DEBUG: a
# `care-hub -v` must not turn that on.
QUIET_LOGGERS = ("aiosqlite",)


def install_log_redaction(names: tuple[str, ...] = REDACTED_LOGGERS) -> None:
    """Attach `RedactSecrets` to these loggers (and the root's handlers), once."""
    targets: list[logging.Filterer] = [logging.getLogger(n) for n in names]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


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
