"""API shapes for provisioning: `XCreate` and `XUpdate` in, `XPublic` out.

Every id, time and text field uses the constrained types of `care_hub.kernel.fields`, and zone
shapes are validated here, so malformed input is a 422 with the field named, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, model_validator

from care_hub.kernel.fields import ApiModel, Id, Key, Text
from care_hub.signal_core.zones import MAX_SHAPES, MAX_VERTICES
from devices.service import MAX_HEIGHT_OFFSET_M

# Room coordinates in metres: finite, and no room is a kilometre across.
Metres = Annotated[float, AllowInfNan(False), Field(ge=-1000, le=1000)]
Point = tuple[Metres, Metres]


class ZoneShape(ApiModel):
    """A rectangle `[x0, y0, x1, y1]` or a polygon of 3-8 `[x, y]` vertices, in room metres."""

    model_config = ConfigDict(extra="allow")  # room for later keys (e.g. heights)
    rect: tuple[Metres, Metres, Metres, Metres] | None = None
    polygon: list[Point] | None = Field(default=None, min_length=3, max_length=MAX_VERTICES)

    @model_validator(mode="after")
    def _one_shape(self) -> ZoneShape:
        if (self.rect is None) == (self.polygon is None):
            raise ValueError("a zone shape is either a 'rect' or a 'polygon'")
        return self


# Zone names are stored in `zones.name` (String(50)).
ZoneName = Annotated[Text, Field(min_length=1, max_length=50)]
ZoneMap = Annotated[dict[ZoneName, ZoneShape], Field(max_length=MAX_SHAPES)]


def zone_map_dict(zone_map: dict[str, ZoneShape]) -> dict[str, Any]:
    """The plain JSON stored on the device (`devices.radar.processor.zone_shapes` reads it)."""
    return {name: shape.model_dump(exclude_none=True) for name, shape in zone_map.items()}


class RoomZone(ApiModel):
    name: ZoneName
    shape: ZoneShape


class ResidentCreate(ApiModel):
    id: Key = Field(examples=["R-0042"])
    name: Text = Field(min_length=1, max_length=200)
    facility_id: Id
    room_id: Id | None = None
    lives_alone: bool = False
    at_risk_wandering: bool = False
    hypercapnic: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)


class DeviceCreate(ApiModel):
    id: Key = Field(examples=["radar-101"])
    type: Literal["radar", "button", "kit"]
    facility_id: Id
    room_id: Id | None = None
    resident_id: Key | None = None
    zone_map: ZoneMap = Field(default_factory=dict)


class DeviceRebind(ApiModel):
    room_id: Id | None = None
    resident_id: Key | None = None
    zone_map: ZoneMap | None = None


class UserCreate(ApiModel):
    username: Text = Field(min_length=1, max_length=100)
    password: Text = Field(min_length=8, max_length=200)
    role: Literal["admin", "caregiver", "family"]
    name: Text = Field(default="", max_length=200)
    facility_id: Id | None = None
    resident_ids: list[Key] = Field(default_factory=list)


class FacilityCreate(ApiModel):
    name: Text = Field(min_length=1, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)
    # IANA time zone for night rules and daily summaries; default Asia/Shanghai.
    timezone: str | None = Field(default=None, max_length=64, examples=["Asia/Shanghai"])


class RoomCreate(ApiModel):
    facility_id: Id
    name: Text = Field(min_length=1, max_length=100)
    floor: Text | None = Field(default=None, max_length=50)
    wing: Text | None = Field(default=None, max_length=50)
    zones: list[RoomZone] = Field(default_factory=list, max_length=MAX_SHAPES)


# ---------------------------------------------------------------- updates and public shapes
# PATCH bodies: only the fields sent change (`model_fields_set`); a field sent as null clears it
# where the column may be empty (a resident's room, a room's floor).


class FacilityUpdate(ApiModel):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    # Replaces the whole settings object (shifts, escalation, contact.phone, night hours...).
    settings: dict[str, Any] | None = None
    timezone: str | None = Field(default=None, max_length=64, examples=["Asia/Shanghai"])


class FacilityPublic(BaseModel):
    id: int
    name: str
    settings: dict[str, Any]
    timezone: str


class FloorPublic(BaseModel):
    """A floor is the `floor` label its rooms share; it exists while a room carries it."""

    facility_id: int
    floor: str | None
    wings: list[str]
    rooms: int
    residents: int


class FloorRename(ApiModel):
    name: Text = Field(min_length=1, max_length=50, examples=["2F"])


class RoomZonePublic(BaseModel):
    name: str
    shape: dict[str, Any]


class RoomUpdate(ApiModel):
    name: Text | None = Field(default=None, min_length=1, max_length=100)
    floor: Text | None = Field(default=None, max_length=50)
    wing: Text | None = Field(default=None, max_length=50)
    # Replaces the room's zones when sent.
    zones: list[RoomZone] | None = Field(default=None, max_length=MAX_SHAPES)


class RoomPublic(BaseModel):
    id: int
    facility_id: int
    name: str
    floor: str | None = None
    wing: str | None = None
    zones: list[RoomZonePublic] = Field(default_factory=list)


class ResidentUpdate(ApiModel):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    room_id: Id | None = None
    lives_alone: bool | None = None
    at_risk_wandering: bool | None = None
    hypercapnic: bool | None = None
    # Replaces the resident's settings; the discharge record in them is kept.
    settings: dict[str, Any] | None = None


class ResidentDischarge(ApiModel):
    note: Text | None = Field(default=None, max_length=500, examples=["moved to hospital"])


class ResidentPublic(BaseModel):
    id: str
    name: str
    facility_id: int
    room_id: int | None
    room: str | None = None
    floor: str | None = None
    wing: str | None = None
    lives_alone: bool
    at_risk_wandering: bool
    hypercapnic: bool
    facility_name: str | None = None
    timezone: str | None = None
    facility_phone: str | None = None
    # Epoch s; a discharged resident keeps their records and leaves the screens.
    discharged_at: float | None = None


class DeviceUpdate(ApiModel):
    """A radar's installation: its zone map (drawn on the room sketch) and/or its height
    calibration; binding is `/bind` and `/unbind`."""

    zone_map: ZoneMap | None = None
    # Metres this radar's centroids read above true height (negative: below), measured at
    # commissioning; subtracted before detection (docs/detection.md, round 25).
    height_offset_m: float | None = Field(
        default=None, ge=-MAX_HEIGHT_OFFSET_M, le=MAX_HEIGHT_OFFSET_M, allow_inf_nan=False
    )


class DevicePublic(BaseModel):
    id: str
    type: str
    facility_id: int
    room_id: int | None
    resident_id: str | None
    zone_map: dict[str, Any]
    state: str | None = None
    last_seen_at: float | None = None
    battery: float | None = None
    fw: str | None = None
    rssi: float | None = None
    clock_skew_s: float | None = None
    rejected_count: int = 0
    height_offset_m: float = 0.0  # a radar's height calibration (PATCH /api/devices/{id})


class BindingPublic(BaseModel):
    room_id: int | None
    resident_id: str | None
    bound_at: float
    unbound_at: float | None


class DeviceDetail(DevicePublic):
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    # What the fall detector learned of the bound resident on this radar (metres: upright_m,
    # on_chair_m, on_bed_m, ...), for commissioning: a standing adult reads 0.5-0.62 x stature.
    learned_heights: dict[str, float] = Field(default_factory=dict)
    bindings: list[BindingPublic] = Field(default_factory=list)


class UserPublic(BaseModel):
    id: int
    username: str
    name: str
    role: str
    facility_id: int | None
    resident_ids: list[str] = Field(default_factory=list)
    active: bool = True


class FamilyLinksUpdate(ApiModel):
    """The residents a family member may see (replaces the list)."""

    resident_ids: list[Key] = Field(max_length=50)
