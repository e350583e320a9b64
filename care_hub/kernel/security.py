"""Password hashing (argon2id) and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's OWASP-aligned defaults
ROLES = ("admin", "caregiver", "family")
TOKEN_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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
    """Slows password guessing: after MAX_FAILURES failed logins for one (username, client address)
    within WINDOW_S, further attempts from there are refused until the window has passed.

    Keyed by address as well as name, so a guesser elsewhere cannot lock a nurse out of the wall
    screen at the station. In memory: one hub process's view (enough to make guessing slow).
    """

    MAX_FAILURES = 5
    WINDOW_S = 300.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this pair may try again (0: now)."""
        now = self._clock()
        recent = [t for t in self._failures.get((username, address), []) if now - t < self.WINDOW_S]
        if recent:
            self._failures[(username, address)] = recent
        else:
            self._failures.pop((username, address), None)
        return self.WINDOW_S - (now - recent[0]) if len(recent) >= self.MAX_FAILURES else 0.0

    def failed(self, username: str, address: str) -> None:
        if len(self._failures) > 100_000:  # bound memory under a spray of names
            self._failures.clear()
        self._failures.setdefault((username, address), []).append(self._clock())

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)
