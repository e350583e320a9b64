"""Web Push for family members: the hub's public VAPID key, and each browser's subscription.

The family page's "enable notifications" button registers `/sw.js`, subscribes with the key
from `GET /api/push/key` and posts the subscription here; `care_hub.api.webpush` sends to it
when an alert of their relative escalates to the family tier.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from care_hub.api.responses import errors
from care_hub.api.webpush import MAX_ENDPOINT_CHARS, PushSubscription, WebPush, endpoint_allowed
from care_hub.kernel.deps import CurrentUser, SessionDep
from care_hub.kernel.fields import ApiModel, Id, Text
from care_hub.kernel.i18n import LANGUAGES

router = APIRouter(prefix="/api/push", tags=["push"])
# Who may subscribe: notifications are sent at the family tier of an escalation.
PUSH_ROLES = ("family",)
# Base64url of a P-256 point (65 bytes -> 87 chars) and of a 16-byte secret (22 chars), with room.
B64Url = Annotated[Text, Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")]


def get_web_push(request: Request) -> WebPush:
    push = getattr(request.app.state, "push", None)
    if push is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "web push is not running")
    return push


WebPushDep = Annotated[WebPush, Depends(get_web_push)]


class PushKey(BaseModel):
    public_key: str = Field(description="the VAPID public key: the browser's applicationServerKey")


class SubscriptionKeys(ApiModel):
    p256dh: B64Url
    auth: B64Url


class SubscriptionCreate(ApiModel):
    """What `PushSubscription.toJSON()` gives in the browser, plus the page's language."""

    endpoint: Text = Field(min_length=8, max_length=MAX_ENDPOINT_CHARS)
    keys: SubscriptionKeys
    lang: str = Field(default="zh-CN", max_length=10, examples=["zh-CN", "en"])
    expirationTime: float | None = None  # noqa: N815 (the browser's own field name)


class SubscriptionPublic(BaseModel):
    id: int
    endpoint: str
    lang: str
    created_at: float


def _public(row: PushSubscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=row.id, endpoint=row.endpoint, lang=row.lang, created_at=row.created_at
    )


@router.get("/key", response_model=PushKey, responses=errors(503))
async def public_key(push: WebPushDep) -> PushKey:
    """The hub's VAPID public key (public: no sign-in needed)."""
    return PushKey(public_key=push.keys.public_key)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionPublic,
    responses=errors(401, 403, 422, 503),
)
async def subscribe(
    body: SubscriptionCreate, session: SessionDep, user: CurrentUser, push: WebPushDep
) -> SubscriptionPublic:
    """Store this browser's subscription for the signed-in family member (the same browser
    subscribing again, or for another account, replaces its row)."""
    if user.role not in PUSH_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role family")
    if not endpoint_allowed(body.endpoint, allow_local=push.allow_local):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "endpoint must be an https push service URL"
        )
    lang = body.lang if body.lang in LANGUAGES else "zh-CN"
    row = await session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == body.endpoint)
    )
    if row is None:
        row = PushSubscription(endpoint=body.endpoint, user_id=user.user_id)
        session.add(row)
    row.user_id = user.user_id
    row.p256dh = body.keys.p256dh
    row.auth = body.keys.auth
    row.lang = lang
    await session.commit()
    return _public(row)


@router.get("/subscriptions", response_model=list[SubscriptionPublic], responses=errors(401))
async def my_subscriptions(session: SessionDep, user: CurrentUser) -> list[Any]:
    """The signed-in user's own subscriptions (one per browser)."""
    rows = await session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user.user_id)
        .order_by(PushSubscription.id)
    )
    return [_public(r) for r in rows]


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 404),
)
async def unsubscribe(subscription_id: Id, session: SessionDep, user: CurrentUser) -> Response:
    """Stop notifications to one of your browsers."""
    row = await session.get(PushSubscription, subscription_id)
    if row is None or row.user_id != user.user_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"subscription {subscription_id} not found")
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)
