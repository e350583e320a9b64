"""Short-lived TURN credentials in coturn's REST-API scheme (`use-auth-secret`).

username = "<expiry epoch s>:<user>", credential = base64(HMAC-SHA1(shared secret, username)),
as in draft-uberti-behave-turn-rest-00 and coturn's `--use-auth-secret --static-auth-secret`.
coturn recomputes the HMAC and refuses a username whose expiry has passed, so the hub never
stores or sends the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

# Long enough for a long call (coturn checks the expiry when an allocation is made or
# refreshed), short enough that a leaked credential is soon useless.
TURN_TTL_S = 3600


@dataclass(frozen=True, slots=True)
class IceServers:
    stun_urls: tuple[str, ...]
    turn_urls: tuple[str, ...]
    username: str | None
    credential: str | None
    expires_at: float | None

    def wire(self) -> dict[str, Any]:
        """`iceServers` for `new RTCPeerConnection({iceServers})`, plus the credential's expiry."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls and self.username and self.credential:
            servers.append(
                {"urls": list(self.turn_urls), "username": self.username, "credential": self.credential}
            )
        return {"iceServers": servers, "expires_at": self.expires_at, "ttl_s": TURN_TTL_S}


def turn_credential(*, secret: str, user: str, now: float, ttl_s: int = TURN_TTL_S) -> tuple[str, str]:
    """(username, credential) for coturn's shared-secret REST API."""
    username = f"{int(now) + ttl_s}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def split_urls(text: str) -> tuple[str, ...]:
    """Comma- or space-separated URLs from a setting."""
    return tuple(u for u in text.replace(",", " ").split() if u)


def ice_servers(
    *, stun_urls: str, turn_urls: str, secret: str | None, user: str, now: float, ttl_s: int = TURN_TTL_S
) -> IceServers:
    turns = split_urls(turn_urls)
    if not turns or not secret:
        return IceServers(split_urls(stun_urls), (), None, None, None)
    username, credential = turn_credential(secret=secret, user=user, now=now, ttl_s=ttl_s)
    return IceServers(split_urls(stun_urls), turns, username, credential, float(int(now) + ttl_s))
