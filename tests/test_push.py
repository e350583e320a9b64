"""Web Push: a family-tier escalation reaches the family's browsers, encrypted and VAPID-signed,
through a push service played by a local HTTP server (no outside network); gone subscriptions are
deleted; each event is sent once across processes; the subscription API and its roles."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select

from alerts.escalation import EscalationEngine
from care_hub.api.webpush import (
    VAPID_KEY_FILE,
    PushSubscription,
    WebPush,
    endpoint_allowed,
    load_or_create_keys,
)
from care_hub.kernel.settings import AlertSettings
from tests.alerts import conftest as alert_fixtures
from tests.alerts.conftest import Db, choose_family_types, set_roster, user_id
from tests.alerts.test_escalation import T0, Clock, _raise_fall
from tests.conftest import HubServer

# The alert engine's seeded SQLite database and event bus (no hub, no broker).
db = alert_fixtures.db
migrated_sqlite = alert_fixtures.migrated_sqlite


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's side of a subscription: its P-256 key pair and auth secret."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return dict(json.loads(plain))


@dataclass
class PushService:
    """Stands in for FCM/Mozilla's push service: records each POST; answers by path."""

    url: str
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def to(self, name: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for n, h, b in self.posts if n == name]


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    service = PushService(url="")
    answers = {"gone": 410, "missing": 404, "broken": 500}

    async def receive(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        service.posts.append(
            (name, {k.lower(): v for k, v in request.headers.items()}, await request.read())
        )
        return web.Response(status=answers.get(name, 201))

    app = web.Application()
    app.router.add_post("/push/{name}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    service.url = f"http://127.0.0.1:{port}/push"
    yield service
    await runner.cleanup()


async def _subscribe(
    db: Db, username: str, service: PushService, browser: Browser, lang: str = "zh-CN"
) -> None:
    async with db.factory() as session:
        session.add(
            PushSubscription(
                user_id=await user_id(session, username),
                endpoint=f"{service.url}/{browser.name}",
                p256dh=browser.p256dh,
                auth=b64url(browser.auth),
                lang=lang,
            )
        )
        await session.commit()


def _verify_vapid(headers: dict[str, str], push: WebPush, audience: str) -> None:
    """`Authorization: vapid t=<ES256 JWT>, k=<public key>` (RFC 8292), signed by the hub's key."""
    auth = headers["authorization"]
    assert auth.startswith("vapid ")
    parts = dict(p.strip().split("=", 1) for p in auth[len("vapid ") :].split(","))
    assert parts["k"] == push.keys.public_key
    head, claims, signature = parts["t"].split(".")
    assert json.loads(unb64url(claims))["aud"] == audience
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged


async def _escalate_to_family(db: Db) -> None:
    clock = Clock(T0)
    engine = EscalationEngine(db.factory, db.bus, AlertSettings(), clock=clock)
    await _raise_fall(db)
    for at in (T0 + 1, T0 + 61, T0 + 125):  # charge nurse at 60 s, family at 120 s
        clock.now = at
        await engine.tick()


async def test_family_escalation_is_pushed_encrypted_and_signed_and_gone_ones_are_deleted(
    db: Db, push_service: PushService, tmp_path: Path
) -> None:
    async with db.factory() as session:
        await set_roster(session)
    phone, laptop = Browser("phone"), Browser("laptop")
    gone, missing, broken, other = (
        Browser("gone"),
        Browser("missing"),
        Browser("broken"),
        Browser("other"),
    )
    await _subscribe(db, "family", push_service, phone)
    await _subscribe(db, "family", push_service, laptop, lang="en")
    for b in (gone, missing, broken):
        await _subscribe(db, "family", push_service, b)
    await _subscribe(db, "family2", push_service, other)  # R-2's relative: never told of R-1

    push = WebPush(session_factory=db.factory, data_dir=tmp_path / "var", allow_local=True)
    db.bus.on_published.append(push.on_event)
    await _escalate_to_family(db)
    await push.drain()

    assert push_service.to("other") == []
    ((headers, body),) = push_service.to("phone")
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    assert headers["urgency"] == "high"
    _verify_vapid(headers, push, audience=push_service.url.rsplit("/push", 1)[0])
    assert b"Resident 1" not in body  # encrypted end to end
    msg = phone.decrypt(body)
    assert "Resident 1" in msg["title"] and "跌倒" in msg["body"] and msg["url"] == "/family"
    ((_, body),) = push_service.to("laptop")
    assert "fall" in laptop.decrypt(body)["body"].lower()  # in the language it subscribed with
    assert push.sent == 2 and push.failed == 3

    async with db.factory() as session:
        left = set((await session.scalars(select(PushSubscription.endpoint))).all())
    names = {e.rsplit("/", 1)[1] for e in left}
    assert names == {"phone", "laptop", "broken", "other"}  # 410 and 404 deleted; 500 kept

    # A second hub process delivering the same committed event sends nothing again.
    second = WebPush(session_factory=db.factory, data_dir=tmp_path / "var", allow_local=True)
    escalated = [e for e in await _family_events(db)]
    assert len(escalated) == 1
    assert await second.notify(escalated[0]) == 0
    assert len(push_service.to("phone")) == 1


async def _family_events(db: Db) -> list[dict[str, Any]]:
    from care_hub.kernel.models import EventLog

    async with db.factory() as session:
        rows = (
            await session.scalars(select(EventLog).where(EventLog.type == "alert.escalated"))
        ).all()
    return [
        {"seq": r.seq, "type": r.type, "data": r.data}
        for r in rows
        if r.data.get("tier") == "family"
    ]


async def test_a_relative_who_chose_other_alert_types_is_not_pushed(
    db: Db, push_service: PushService, tmp_path: Path
) -> None:
    async with db.factory() as session:
        await set_roster(session)
        await choose_family_types(session, "family", ["call"])
    await _subscribe(db, "family", push_service, Browser("phone"))
    push = WebPush(session_factory=db.factory, data_dir=tmp_path / "var", allow_local=True)
    db.bus.on_published.append(push.on_event)
    await _escalate_to_family(db)
    await push.drain()
    assert push_service.posts == []


def test_vapid_keys_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = load_or_create_keys(tmp_path)
    path = tmp_path / VAPID_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_keys(tmp_path).public_key == first.public_key
    assert len(unb64url(first.public_key)) == 65  # an uncompressed P-256 point


@pytest.mark.parametrize(
    ("endpoint", "local", "ok"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", False, True),
        ("http://fcm.googleapis.com/fcm/send/abc", False, False),
        ("https://127.0.0.1:5432/x", False, False),
        ("https://[::1]/x", False, False),
        ("https://localhost/x", False, False),
        ("http://127.0.0.1:8080/push/x", True, True),
        ("ftp://example.com/x", True, False),
        ("not a url", True, False),
    ],
)
def test_endpoints_the_hub_may_post_to(endpoint: str, local: bool, ok: bool) -> None:
    assert endpoint_allowed(endpoint, allow_local=local) is ok


def test_subscription_api(hub_server: HubServer) -> None:
    family, nurse = hub_server.token("family"), hub_server.token("nurse")
    phone = Browser("phone")
    body = {
        "endpoint": "http://127.0.0.1:9/push/phone",
        "keys": {"p256dh": phone.p256dh, "auth": b64url(phone.auth)},
        "lang": "en",
    }
    with hub_server.client() as anon:
        key = anon.get("/api/push/key")
        assert key.status_code == 200 and len(unb64url(key.json()["public_key"])) == 65
        assert anon.post("/api/push/subscriptions", json=body).status_code == 401
    with hub_server.client(nurse) as c:
        assert c.post("/api/push/subscriptions", json=body).status_code == 403
    with hub_server.client(family) as c:
        r = c.post("/api/push/subscriptions", json=body)
        assert r.status_code == 201, r.text
        sub = r.json()
        assert sub["lang"] == "en"
        again = c.post("/api/push/subscriptions", json={**body, "lang": "zh-CN"})
        assert again.json()["id"] == sub["id"]  # the same browser: one row
        bad = {**body, "endpoint": "ftp://x.example/push"}
        assert c.post("/api/push/subscriptions", json=bad).status_code == 422
        short = {**body, "keys": {"p256dh": "a b", "auth": ""}}
        assert c.post("/api/push/subscriptions", json=short).status_code == 422
        assert [s["id"] for s in c.get("/api/push/subscriptions").json()] == [sub["id"]]
    with hub_server.client(nurse) as c:
        assert c.get("/api/push/subscriptions").json() == []
        assert c.delete(f"/api/push/subscriptions/{sub['id']}").status_code == 404
    with hub_server.client(family) as c:
        assert c.delete(f"/api/push/subscriptions/{sub['id']}").status_code == 204
        assert c.delete(f"/api/push/subscriptions/{sub['id']}").status_code == 404
    with hub_server.client() as anon:
        sw = anon.get("/sw.js")
        assert sw.status_code == 200 and "showNotification" in sw.text
        assert sw.headers["content-type"].startswith("text/javascript")
