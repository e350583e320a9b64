"""Load a seed (facilities, rooms, residents, devices, users) into the database, idempotently.

The format is documented in `simulators.residents` (version 1). Loading twice changes nothing:
objects that already exist are skipped, so `care-hub demo` can seed on every start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub import service
from care_hub.models import Facility, Resident, Room, User
from devices import service as device_service
from devices.models import Device

SUPPORTED_VERSIONS = (1,)


def read_seed_file(path: Path) -> dict[str, Any]:
    seed = json.loads(path.read_text())
    if not isinstance(seed, dict) or seed.get("version") not in SUPPORTED_VERSIONS:
        raise ValueError(f"{path}: not a care-hub seed (expected a JSON object with version 1)")
    return seed


def _zone_shape(zone: dict[str, Any]) -> dict[str, Any]:
    if "shape" in zone:
        return dict(zone["shape"])
    if "polygon" in zone:
        return {"polygon": zone["polygon"]}
    return {"rect": [zone["x0"], zone["y0"], zone["x1"], zone["y1"]]}


def zone_map_of(zones: list[dict[str, Any]]) -> dict[str, Any]:
    return {z["name"]: _zone_shape(z) for z in zones}


async def load_seed(*, session: AsyncSession, seed: dict[str, Any]) -> dict[str, int]:
    """Create what the seed describes and does not exist yet. Returns counts of created objects."""
    created = {"facilities": 0, "rooms": 0, "residents": 0, "devices": 0, "users": 0}
    for f in seed.get("facilities", []):
        if await session.get(Facility, f["id"]) is None:
            await service.create_facility(session=session, name=f["name"], facility_id=f["id"],
                                          settings=f.get("settings"))
            created["facilities"] += 1
    room_ids: dict[str, int] = {}
    for r in seed.get("rooms", []):
        existing = await session.scalar(select(Room).where(
            Room.facility_id == r["facility_id"], Room.name == str(r["id"])))
        if existing is None:
            existing = await service.create_room(
                session=session, facility_id=r["facility_id"], name=str(r["id"]),
                floor=str(r.get("floor", "")) or None, wing=r.get("wing"),
                zones=[{"name": z["name"], "shape": _zone_shape(z)} for z in r.get("zones", [])])
            created["rooms"] += 1
        room_ids[str(r["id"])] = existing.id
    for p in seed.get("residents", []):
        if await session.get(Resident, p["id"]) is None:
            await service.create_resident(
                session=session, resident_id=p["id"], facility_id=p["facility_id"], name=p["name"],
                room_id=room_ids.get(str(p.get("room"))) if p.get("room") else None,
                lives_alone=bool(p.get("lives_alone")), at_risk_wandering=bool(p.get("at_risk_wandering")),
                hypercapnic=bool(p.get("hypercapnic")), settings=p.get("settings"))
            created["residents"] += 1
    for d in seed.get("devices", []):
        if await session.get(Device, d["id"]) is None:
            await device_service.create_device(
                session=session, device_id=d["id"], type=d["type"], facility_id=d["facility_id"],
                room_id=room_ids.get(str(d.get("room"))) if d.get("room") else None,
                resident_id=d.get("resident_id"), zone_map=zone_map_of(d.get("zones", [])))
            created["devices"] += 1
    for u in seed.get("users", []):
        if await session.scalar(select(User).where(User.username == u["username"])) is None:
            await service.create_user(
                session=session, username=u["username"], password=u["password"], role=u["role"],
                name=u.get("name", ""), facility_id=u.get("facility_id"),
                resident_ids=u.get("resident_ids") or [])
            created["users"] += 1
    return created
