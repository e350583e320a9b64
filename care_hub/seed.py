"""Load a seed (facilities, rooms, residents, devices, users) into the database, idempotently.

The format is documented in `simulators.residents` (version 1). Loading twice changes nothing:
objects that already exist are skipped, so `care-hub demo` can seed on every start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel import accounts
from care_hub.kernel.models import Facility, Resident, Room, User, Zone
from devices import service as device_service
from devices.contract import is_valid_device_id
from devices.models import Device, DeviceBinding

SUPPORTED_VERSIONS = (1,)
# Tables whose integer ids the seed gives explicitly (rooms, users and the rest take generated ids).
EXPLICIT_ID_TABLES = ("facilities",)


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


async def _move_sequences_past_explicit_ids(session: AsyncSession) -> None:
    """On PostgreSQL, an insert with an explicit id leaves the id sequence behind, and the next
    generated id (POST /api/facilities) would collide with a seeded one: set each sequence to the
    table's largest id. SQLite takes max(id) + 1 by itself."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.flush()
    for table in EXPLICIT_ID_TABLES:
        await session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 1), "
                f"(SELECT max(id) FROM {table}) IS NOT NULL)"
            )
        )


async def load_seed(*, session: AsyncSession, seed: dict[str, Any]) -> dict[str, int]:
    """Create what the seed describes and does not exist yet. Returns counts of created objects.

    Bulk: existing ids are read once per table and new rows flushed together, so a community of
    10,000 residents loads in seconds. References are checked against the seed and the database.
    """
    created = {"facilities": 0, "rooms": 0, "residents": 0, "devices": 0, "users": 0}
    facility_ids = set((await session.scalars(select(Facility.id))).all())
    for f in seed.get("facilities", []):
        if f["id"] not in facility_ids:
            await accounts.create_facility(
                session=session,
                name=f["name"],
                facility_id=f["id"],
                settings=f.get("settings"),
                timezone=f.get("timezone"),
            )
            facility_ids.add(f["id"])
            created["facilities"] += 1
    if created["facilities"]:
        await _move_sequences_past_explicit_ids(session)
    room_ids: dict[tuple[int, str], int] = {
        (fid, name): rid
        for rid, fid, name in (
            await session.execute(select(Room.id, Room.facility_id, Room.name))
        ).all()
    }
    new_rooms: list[tuple[Room, list[dict[str, Any]]]] = []
    for r in seed.get("rooms", []):
        key = (r["facility_id"], str(r["id"]))
        if key in room_ids or r["facility_id"] not in facility_ids:
            continue
        room = Room(
            facility_id=r["facility_id"],
            name=str(r["id"]),
            floor=str(r.get("floor", "")) or None,
            wing=r.get("wing"),
        )
        new_rooms.append((room, r.get("zones", [])))
    session.add_all([room for room, _ in new_rooms])
    await session.flush()
    for room, zones in new_rooms:
        room_ids[(room.facility_id, room.name)] = room.id
        session.add_all(
            [Zone(room_id=room.id, name=z["name"], shape=_zone_shape(z)) for z in zones]
        )
    created["rooms"] = len(new_rooms)

    def room_of(item: dict[str, Any]) -> int | None:
        if not item.get("room"):
            return None
        rid = room_ids.get((item["facility_id"], str(item["room"])))
        if rid is None:
            raise accounts.ProvisioningError(
                f"room {item['room']} is not in facility {item['facility_id']}"
            )
        return rid

    resident_ids = set((await session.scalars(select(Resident.id))).all())
    for p in seed.get("residents", []):
        if p["id"] in resident_ids:
            continue
        if p["facility_id"] not in facility_ids:
            raise accounts.ProvisioningError(
                f"resident {p['id']}: facility {p['facility_id']} does not exist"
            )
        session.add(
            Resident(
                id=p["id"],
                facility_id=p["facility_id"],
                name=p["name"],
                room_id=room_of(p),
                lives_alone=bool(p.get("lives_alone")),
                at_risk_wandering=bool(p.get("at_risk_wandering")),
                hypercapnic=bool(p.get("hypercapnic")),
                settings=p.get("settings") or {},
            )
        )
        resident_ids.add(p["id"])
        created["residents"] += 1
    await session.flush()
    device_ids = set((await session.scalars(select(Device.id))).all())
    for d in seed.get("devices", []):
        if d["id"] in device_ids:
            continue
        if not is_valid_device_id(d["id"]) or d["type"] not in device_service.DEVICE_TYPES:
            raise accounts.ProvisioningError(f"device {d['id']!r}: bad id or type {d.get('type')!r}")
        if d["facility_id"] not in facility_ids:
            raise accounts.ProvisioningError(
                f"device {d['id']}: facility {d['facility_id']} does not exist"
            )
        if d.get("resident_id") and d["resident_id"] not in resident_ids:
            raise accounts.ProvisioningError(
                f"device {d['id']}: resident {d['resident_id']} does not exist"
            )
        room_id = room_of(d)
        try:
            offset = device_service.height_offset(d.get("height_offset_m", 0.0))
        except accounts.ProvisioningError as e:
            raise accounts.ProvisioningError(f"device {d['id']}: {e}") from None
        session.add(
            Device(
                id=d["id"],
                type=d["type"],
                facility_id=d["facility_id"],
                room_id=room_id,
                resident_id=d.get("resident_id"),
                zone_map=zone_map_of(d.get("zones", [])),
                height_offset_m=offset,
            )
        )
        session.add(
            DeviceBinding(device_id=d["id"], room_id=room_id, resident_id=d.get("resident_id"))
        )
        device_ids.add(d["id"])
        created["devices"] += 1
    await session.flush()
    for u in seed.get("users", []):
        if await session.scalar(select(User).where(User.username == u["username"])) is None:
            await accounts.create_user(
                session=session,
                username=u["username"],
                password=u["password"],
                role=u["role"],
                name=u.get("name", ""),
                facility_id=u.get("facility_id"),
                resident_ids=u.get("resident_ids") or [],
            )
            created["users"] += 1
    return created
