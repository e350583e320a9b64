"""Demo seed for care-hub: one care complex, its rooms, residents, devices and users.

`build_seed(...)` returns a plain, JSON-serialisable dict; `care-hub seed` loads it (from this
function or from a JSON file written by ``python -m simulators.residents --out seed.json``).
Device ids follow the same scheme as `simulators.fleet.Fleet`, so a fleet of the same size
and ``device_prefix`` publishes as exactly the devices the seed provisions.

Seed dict format (version 1); every key is always present, lists may be empty::

    {
      "version": 1,
      "facilities": [
        {"id": 1, "name": "Sunrise Care Complex",
         "floors": [{"number": 1, "name": "Floor 1", "rooms": ["101", "102", ...]}, ...]}
      ],
      "rooms": [
        {"id": "101", "facility_id": 1, "floor": 1, "name": "Room 101",
         "width_m": 4.0, "depth_m": 5.0,
         "zones": [{"name": "bed", "x0": 0.2, "y0": 3.0, "x1": 1.6, "y1": 4.9}, ...]}
      ],
      "residents": [
        {"id": "R-0001", "name": "Margaret Hughes", "facility_id": 1, "room": "101",
         "birth_year": 1938, "lives_alone": false, "at_risk_wandering": true}
      ],
      "devices": [
        {"id": "btn-1", "type": "button", "facility_id": 1, "room": "101", "resident_id": "R-0001"},
        {"id": "radar-1", "type": "radar", "facility_id": 1, "room": "101", "resident_id": "R-0001",
         "mount": {"x": 2.0, "y": 0.0, "height_m": 1.8}, "zones": [...same as the room...]},
        {"id": "kit-1", "type": "kit", "facility_id": 1, "room": null, "resident_id": null}
      ],
      "users": [
        {"username": "admin", "password": "...", "name": "...", "role": "admin",
         "facility_id": 1, "resident_ids": []},
        {"username": "nurse", "password": "...", "name": "...", "role": "caregiver",
         "facility_id": 1, "resident_ids": []},
        {"username": "family", "password": "...", "name": "...", "role": "family",
         "facility_id": null, "resident_ids": ["R-0001"]}
      ]
    }

Zones are axis-aligned rectangles in room coordinates (metres; x across the room's width,
y along its depth, the door at y = 0, the radar on the door wall looking in). `room` is the
room id string; `type` is one of ``radar``, ``button``, ``kit``; `role` one of ``admin``,
``caregiver``, ``family``. Passwords are whatever the caller passes in, in clear: the loader
hashes them. Residents with ``lives_alone`` are independent-living apartments of the complex.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

SEED_FORMAT_VERSION = 1
FACILITY_ID = 1
FACILITY_NAME = "Sunrise Care Complex"

# Room geometry shared with the fleet's walking model (metres).
ROOM_WIDTH_M = 4.0
ROOM_DEPTH_M = 5.0
# Typical wall mounting for a fall radar: high on the wall, looking down into the room.
RADAR_MOUNT = {"x": 2.0, "y": 0.0, "height_m": 1.8}
ZONES: tuple[dict[str, Any], ...] = (
    {"name": "door", "x0": 1.5, "y0": 0.0, "x1": 2.5, "y1": 0.6},
    {"name": "bathroom", "x0": 2.6, "y0": 0.0, "x1": 4.0, "y1": 1.8},
    {"name": "chair", "x0": 2.8, "y0": 3.2, "x1": 3.8, "y1": 4.2},
    {"name": "bed", "x0": 0.2, "y0": 3.0, "x1": 1.6, "y1": 4.9},
)

ROOMS_PER_FLOOR = 10
# About one in five residents lives alone (independent-living apartments of the complex) and
# about one in eight is at risk of wandering (dementia care): enough of each for demos.
LIVES_ALONE_FRACTION = 0.2
WANDERING_FRACTION = 0.125

_FIRST_NAMES = (
    "Margaret", "Arthur", "Dorothy", "Harold", "Edith", "Walter", "Joan", "Kenneth", "Irene",
    "Stanley", "Mabel", "Frank", "Beryl", "Leonard", "Gladys", "Ernest", "Winifred", "Albert",
    "Sylvia", "Raymond", "Hilda", "Norman", "Vera", "Cyril", "Agnes", "Bernard", "Ivy", "Dennis",
    "Rosa", "Tomasz", "Amara", "Kwame", "Mei", "Rajesh", "Ingrid", "Jose",
)  # fmt: skip
_LAST_NAMES = (
    "Hughes", "Patel", "Okafor", "Nowak", "Williams", "Chen", "Murphy", "Schmidt", "Garcia",
    "Evans", "Kowalski", "Singh", "Brown", "Lindqvist", "Moreau", "Rossi", "Taylor", "Nakamura",
    "O'Brien", "Jensen", "Walker", "Haddad", "Fischer", "Clarke",
)  # fmt: skip


def button_id(n: int, prefix: str = "") -> str:
    """Id of resident number ``n`` (1-based)'s call button."""
    return f"{prefix}btn-{n}"


def radar_id(n: int, prefix: str = "") -> str:
    """Id of resident number ``n`` (1-based)'s room radar."""
    return f"{prefix}radar-{n}"


def kit_id(k: int, prefix: str = "") -> str:
    """Id of shared health kit number ``k`` (1-based)."""
    return f"{prefix}kit-{k}"


def resident_id(n: int) -> str:
    """Hub id of resident number ``n`` (1-based): ``R-0001``..."""
    return f"R-{n:04d}"


def room_id(n: int, rooms_per_floor: int = ROOMS_PER_FLOOR) -> str:
    """Room of resident number ``n``: 101..110 on floor 1, 201.. on floor 2, ..."""
    floor, index = divmod(n - 1, rooms_per_floor)
    return f"{floor + 1}{index + 1:02d}"


def resident_names(n_residents: int, *, seed: int = 0) -> list[str]:
    """``n_residents`` distinct "First Last" names (distinct while the lists last), reproducible."""
    rng = random.Random(seed)
    pairs = [(f, last) for f in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(pairs)
    return [f"{f} {last}" for f, last in (pairs[i % len(pairs)] for i in range(n_residents))]


def build_seed(
    n_residents: int = 20,
    *,
    admin_password: str,
    caregiver_password: str,
    family_password: str,
    seed: int = 0,
    n_kits: int = 2,
    device_prefix: str = "",
    rooms_per_floor: int = ROOMS_PER_FLOOR,
    admin_username: str = "admin",
    caregiver_username: str = "nurse",
    family_username: str = "family",
) -> dict[str, Any]:
    """The demo seed dict (format in the module docstring); reproducible for a given ``seed``."""
    if n_residents < 1:
        raise ValueError("n_residents must be at least 1")
    rng = random.Random(seed)
    names = resident_names(n_residents, seed=seed)
    zones = [dict(z) for z in ZONES]

    floors: dict[int, list[str]] = {}
    rooms: list[dict[str, Any]] = []
    residents: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    for n in range(1, n_residents + 1):
        room = room_id(n, rooms_per_floor)
        floor = (n - 1) // rooms_per_floor + 1
        floors.setdefault(floor, []).append(room)
        rooms.append(
            {
                "id": room,
                "facility_id": FACILITY_ID,
                "floor": floor,
                "name": f"Room {room}",
                "width_m": ROOM_WIDTH_M,
                "depth_m": ROOM_DEPTH_M,
                "zones": [dict(z) for z in zones],
            }
        )
        rid = resident_id(n)
        residents.append(
            {
                "id": rid,
                "name": names[n - 1],
                "facility_id": FACILITY_ID,
                "room": room,
                "birth_year": rng.randint(1926, 1950),
                "lives_alone": rng.random() < LIVES_ALONE_FRACTION,
                "at_risk_wandering": rng.random() < WANDERING_FRACTION,
            }
        )
        common = {"facility_id": FACILITY_ID, "room": room, "resident_id": rid}
        devices.append({"id": button_id(n, device_prefix), "type": "button", **common})
        devices.append(
            {
                "id": radar_id(n, device_prefix),
                "type": "radar",
                **common,
                "mount": dict(RADAR_MOUNT),
                "zones": [dict(z) for z in zones],
            }
        )
    for k in range(1, n_kits + 1):
        devices.append(
            {
                "id": kit_id(k, device_prefix),
                "type": "kit",
                "facility_id": FACILITY_ID,
                "room": None,
                "resident_id": None,
            }
        )

    family_of = residents[0]["name"].split()[-1]
    users = [
        {
            "username": admin_username,
            "password": admin_password,
            "name": "Site Administrator",
            "role": "admin",
            "facility_id": FACILITY_ID,
            "resident_ids": [],
        },
        {
            "username": caregiver_username,
            "password": caregiver_password,
            "name": "Nurse Amara Okafor",
            "role": "caregiver",
            "facility_id": FACILITY_ID,
            "resident_ids": [],
        },
        {
            "username": family_username,
            "password": family_password,
            "name": f"Helen {family_of}",
            "role": "family",
            "facility_id": None,
            "resident_ids": [resident_id(1)],
        },
    ]
    return {
        "version": SEED_FORMAT_VERSION,
        "facilities": [
            {
                "id": FACILITY_ID,
                "name": FACILITY_NAME,
                "floors": [
                    {"number": f, "name": f"Floor {f}", "rooms": r}
                    for f, r in sorted(floors.items())
                ],
            }
        ],
        "rooms": rooms,
        "residents": residents,
        "devices": devices,
        "users": users,
    }


def main(argv: list[str] | None = None) -> int:
    """Write a demo seed as JSON. Passwords come from options or CARE_HUB_SEED_*_PASSWORD."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.residents", description=main.__doc__
    )
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--kits", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device-prefix", default="")
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    for role in ("admin", "caregiver", "family"):
        parser.add_argument(
            f"--{role}-password", default=os.environ.get(f"CARE_HUB_SEED_{role.upper()}_PASSWORD")
        )
    args = parser.parse_args(argv)
    missing = [r for r in ("admin", "caregiver", "family") if not getattr(args, f"{r}_password")]
    if missing:
        parser.error("missing passwords for: " + ", ".join(missing))
    seed = build_seed(
        args.residents,
        admin_password=args.admin_password,
        caregiver_password=args.caregiver_password,
        family_password=args.family_password,
        seed=args.seed,
        n_kits=args.kits,
        device_prefix=args.device_prefix,
    )
    text = json.dumps(seed, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
