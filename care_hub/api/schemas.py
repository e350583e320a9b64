"""API shapes for provisioning: XCreate for input, plain dicts out (see *_public helpers)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ResidentCreate(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["R-0042"])
    name: str = Field(min_length=1, max_length=200)
    facility_id: int
    room_id: int | None = None
    lives_alone: bool = False
    at_risk_wandering: bool = False
    hypercapnic: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)


class DeviceCreate(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["radar-101"])
    type: Literal["radar", "button", "kit"]
    facility_id: int
    room_id: int | None = None
    resident_id: str | None = None
    zone_map: dict[str, Any] = Field(default_factory=dict)


class DeviceRebind(BaseModel):
    room_id: int | None = None
    resident_id: str | None = None
    zone_map: dict[str, Any] | None = None


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    role: Literal["admin", "caregiver", "family"]
    name: str = ""
    facility_id: int | None = None
    resident_ids: list[str] = Field(default_factory=list)


class FacilityCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)


class RoomCreate(BaseModel):
    facility_id: int
    name: str = Field(min_length=1, max_length=100)
    floor: str | None = None
    wing: str | None = None
    zones: list[dict[str, Any]] = Field(default_factory=list)


class AckRequest(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class ResolveRequest(BaseModel):
    note: str | None = Field(default=None, max_length=2000)
    outcome: (
        Literal["real_fall", "false_alarm", "assisted", "transferred_to_hospital", "resolved"]
        | None
    ) = None
    answers: dict[str, bool] | None = None
