"""Web Push to family members: VAPID keys, stored browser subscriptions, and sending on escalation.

When an alert escalates to the family tier (`alert.escalated` with `tier == "family"`), every
browser subscription of the resident's linked family members (those who chose that alert type)
gets an encrypted notification (RFC 8291, aes128gcm) signed with the hub's VAPID key (RFC 8292),
so a relative hears of it with the family page closed. `pywebpush` does blocking HTTP: it runs in
a worker thread, never on the event loop. A push service answering 404 or 410 means the
subscription is gone: its row is deleted. Other failures are logged per subscription.

Several hub processes deliver every committed event; each subscription is claimed per event
(`last_seq`, compare-and-set in the database), so a relative is told once, not once per process.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlalchemy import Float, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from alerts.routing import chosen_types
from care_hub.kernel.db import Base, now_s
from care_hub.kernel.i18n import LANGUAGES, translate
from care_hub.kernel.models import FamilyLink

log = logging.getLogger(__name__)

VAPID_KEY_FILE = "vapid_private.pem"
# A push service keeps an undelivered notification this long (the phone may be off): an
# escalation older than six hours is news the family page shows anyway.
PUSH_TTL_S = 6 * 3600
# Seconds to wait for one push service; a slow one must not hold the others back for long.
PUSH_TIMEOUT_S = 10.0
# Answers meaning "this subscription no longer exists" (RFC 8030 section 7.3; FCM answers 404).
GONE_STATUSES = (404, 410)
# The longest endpoint URL stored (FCM's and Apple's are about 200-400 characters).
MAX_ENDPOINT_CHARS = 2048


class PushSubscription(Base):
    """One browser's push subscription (W3C Push API), belonging to one signed-in user."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(MAX_ENDPOINT_CHARS), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    # The language the notification is written in (the page's, when subscribing).
    lang: Mapped[str] = mapped_column(String(10), default="zh-CN")
    created_at: Mapped[float] = mapped_column(Float, default=now_s)
    # Seq of the last event sent here: the per-event claim that keeps one notification per event.
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class VapidKeys:
    vapid: Vapid
    # The browser's `applicationServerKey`: the uncompressed P-256 point, base64url.
    public_key: str


def load_or_create_keys(data_dir: Path) -> VapidKeys:
    """The hub's VAPID key pair, generated once into `data_dir` (0600) and kept: a new key would
    orphan every browser subscription made with the old one."""
    path = data_dir / VAPID_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = Vapid()
        fresh.generate_keys()
        # Written whole under a private name, then linked into place: two processes starting
        # at once keep the first key, and nobody reads a half-written file.
        tmp = data_dir / f".{VAPID_KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(fresh.private_pem())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    vapid = Vapid.from_file(str(path))
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(vapid=vapid, public_key=_b64url(raw))


def endpoint_allowed(endpoint: str, *, allow_local: bool) -> bool:
    """A push service URL the hub may POST to. Outside development and tests only https to a
    named host: an endpoint is user input, and the hub must not be made to post into its own
    network (the database, the broker)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    if allow_local:
        return True
    if parts.scheme != "https" or parts.hostname == "localhost":
        return False
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return True
    return False  # an address literal: no push service is reached that way


def message(event: dict[str, Any], lang: str) -> dict[str, Any]:
    """The notification a family member reads: who, what, in their language; no device, no
    staff names (the family-safe view of docs/alerts.md)."""
    data = event.get("data") or {}
    kind = str(data.get("type") or "")
    what = translate(f"family.alert.{kind}", lang)
    if what == f"family.alert.{kind}":
        what = translate(f"alert.type.{kind}", lang)
    return {
        "title": translate("family.push.title", lang, name=data.get("resident_name") or ""),
        "body": translate("family.push.body", lang, what=what),
        "tag": f"alert-{data.get('id')}",
        "url": "/family",
        "lang": lang,
        "alert_id": data.get("id"),
        "resident_id": data.get("resident_id"),
    }


@dataclass(frozen=True, slots=True)
class Target:
    id: int
    endpoint: str
    p256dh: str
    auth: str
    lang: str


class WebPush:
    """Sends family-tier escalations to subscribed browsers; hooked on `EventBus.on_published`."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        data_dir: Path,
        subject: str = "mailto:care-hub@localhost",
        allow_local: bool = False,
    ) -> None:
        self._session_factory = session_factory
        self.keys = load_or_create_keys(data_dir)
        self.subject = subject
        self.allow_local = allow_local
        self._tasks: set[asyncio.Task[int]] = set()
        self.sent = 0
        self.failed = 0

    def on_event(self, event: dict[str, Any]) -> None:
        """The bus hook: never blocks and never raises (it runs inside `publish`)."""
        data = event.get("data")
        if event.get("type") != "alert.escalated" or not isinstance(data, dict):
            return
        if data.get("tier") != "family" or not data.get("family_user_ids"):
            return
        try:
            task = asyncio.get_running_loop().create_task(self.notify(event))
        except RuntimeError:  # published outside the event loop: nothing to send from here
            log.warning("web push: event %s published outside the event loop", event.get("seq"))
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def notify(self, event: dict[str, Any]) -> int:
        """Send one escalation to its family members' browsers; returns how many were sent."""
        try:
            targets = await self._claim(event)
        except Exception:
            log.exception("web push: could not read subscriptions for event %s", event.get("seq"))
            return 0
        results = await asyncio.gather(*(self._send(t, event) for t in targets))
        return sum(results)

    async def _claim(self, event: dict[str, Any]) -> list[Target]:
        data = event["data"]
        seq = int(event["seq"])
        resident_id, kind = data.get("resident_id"), data.get("type")
        async with self._session_factory() as session:
            links = (
                await session.scalars(
                    select(FamilyLink).where(
                        FamilyLink.resident_id == resident_id,
                        FamilyLink.user_id.in_([int(u) for u in data["family_user_ids"]]),
                    )
                )
            ).all()
            users = [
                link.user_id
                for link in links
                if (types := chosen_types([link]).get(link.resident_id)) is None or kind in types
            ]
            rows = (
                await session.scalars(
                    select(PushSubscription).where(PushSubscription.user_id.in_(users))
                )
            ).all()
            claimed = []
            for row in rows:
                # Compare-and-set: the process that moves last_seq to this event sends it.
                result = await session.execute(
                    update(PushSubscription)
                    .where(PushSubscription.id == row.id, PushSubscription.last_seq < seq)
                    .values(last_seq=seq)
                )
                if getattr(result, "rowcount", 0) == 1:
                    claimed.append(Target(row.id, row.endpoint, row.p256dh, row.auth, row.lang))
            await session.commit()
        return claimed

    async def _send(self, target: Target, event: dict[str, Any]) -> int:
        lang = target.lang if target.lang in LANGUAGES else "zh-CN"
        payload = json.dumps(message(event, lang), ensure_ascii=False)
        if not endpoint_allowed(target.endpoint, allow_local=self.allow_local):
            log.warning("web push: subscription %s has a refused endpoint; skipped", target.id)
            return 0
        try:
            await asyncio.to_thread(self._post, target, payload)
        except WebPushException as exc:
            code = exc.response.status_code if exc.response is not None else None
            if code in GONE_STATUSES:
                log.info("web push: subscription %s is gone (%s); deleted", target.id, code)
                await self._forget(target.id)
            else:
                log.warning("web push: subscription %s failed: %s", target.id, code or exc)
            self.failed += 1
            return 0
        except Exception as exc:  # network errors: logged, the others still get theirs
            log.warning("web push: subscription %s failed: %s", target.id, type(exc).__name__)
            self.failed += 1
            return 0
        self.sent += 1
        return 1

    def _post(self, target: Target, payload: str) -> None:
        webpush(
            subscription_info={
                "endpoint": target.endpoint,
                "keys": {"p256dh": target.p256dh, "auth": target.auth},
            },
            data=payload,
            vapid_private_key=self.keys.vapid,
            # A fresh dict each time: pywebpush writes `aud` and `exp` into it.
            vapid_claims={"sub": self.subject},
            ttl=PUSH_TTL_S,
            timeout=PUSH_TIMEOUT_S,
            headers={"Urgency": "high"},
        )

    async def _forget(self, subscription_id: int) -> None:
        async with self._session_factory() as session:
            await session.execute(
                delete(PushSubscription).where(PushSubscription.id == subscription_id)
            )
            await session.commit()

    async def drain(self) -> None:
        """Wait for the notifications under way (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
