"""Provisioning through the API and the CLI: devices, re-binding with history, daily summary."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from care_hub.cli import main as cli
from tests.conftest import HubServer

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def test_admin_provisions_and_rebinding_keeps_history(hub_server: HubServer, prefix: str) -> None:
    admin = hub_server.token("admin")
    with hub_server.client(admin) as c:
        r = c.post("/api/residents", json={"id": "R-9", "name": "New Resident", "facility_id": 1})
        assert r.status_code == 201 and r.json()["id"] == "R-9"
        assert (
            c.post(
                "/api/residents", json={"id": "R-9", "name": "Again", "facility_id": 1}
            ).status_code
            == 409
        )
        assert (
            c.post(
                "/api/residents", json={"id": "bad id!", "name": "x", "facility_id": 1}
            ).status_code
            == 422
        )
        r = c.post(
            "/api/devices",
            json={
                "id": f"{prefix}radar-9",
                "type": "radar",
                "facility_id": 1,
                "resident_id": "R-1",
            },
        )
        assert r.status_code == 201
        assert (
            c.post(
                "/api/devices", json={"id": f"{prefix}x", "type": "toaster", "facility_id": 1}
            ).status_code
            == 422
        )
        assert (
            c.post(
                "/api/devices", json={"id": f"{prefix}y", "type": "kit", "facility_id": 99}
            ).status_code
            == 409
        )
        r = c.post(f"/api/devices/{prefix}radar-9/bind", json={"resident_id": "R-9"})
        assert r.status_code == 200 and r.json()["resident_id"] == "R-9"
        health = c.get(f"/api/devices/{prefix}radar-9").json()
        assert [b["resident_id"] for b in health["bindings"]] == ["R-1", "R-9"]
        assert (
            health["bindings"][0]["unbound_at"] is not None
            and health["bindings"][1]["unbound_at"] is None
        )
        r = c.post(
            "/api/users",
            json={
                "username": "kin",
                "password": "long-enough-pw",
                "role": "family",
                "resident_ids": ["R-9"],
            },
        )
        assert r.status_code == 201
    assert (
        hub_server.hub.registry.get(f"{prefix}radar-9").resident_id == "R-9"
    )  # live registry updated
    with hub_server.client(hub_server.token("nurse")) as c:  # caregivers do not provision
        assert (
            c.post("/api/residents", json={"id": "R-10", "name": "x", "facility_id": 1}).status_code
            == 403
        )
    with hub_server.client(hub_server.token("kin", "long-enough-pw")) as c:
        assert [p["id"] for p in c.get("/api/residents").json()] == ["R-9"]
        assert c.get("/api/devices").status_code == 403


def test_daily_summary_is_served_from_the_trail(hub_server: HubServer) -> None:
    nurse = hub_server.token("nurse")
    with hub_server.client(nurse) as c:
        body = c.get("/api/residents/R-1/summary", params={"day_start": time.time() - 3600}).json()
        assert body["resident_id"] == "R-1"
        assert body["bathroom_visits"] == 0 and body["time_in_bed_s"] == 0.0
    with hub_server.client(hub_server.token("family")) as c:
        assert c.get("/api/residents/R-2/summary").status_code == 404


def test_cli_adds_a_device_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "var")]
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "version": 1,
                "facilities": [{"id": 1, "name": "Home"}],
                "rooms": [{"id": "101", "facility_id": 1}],
            }
        )
    )
    assert cli(["seed", "--file", str(seed), *data]) == 0
    assert (
        cli(
            [
                "add-device",
                "btn-x",
                "--type",
                "button",
                "--facility-id",
                "1",
                "--room",
                "101",
                *data,
            ]
        )
        == 0
    )
    assert "created" in capsys.readouterr().out
    assert cli(["add-device", "btn-y", "--type", "button", "--facility-id", "7", *data]) == 1
    assert "facility 7 does not exist" in capsys.readouterr().err
    assert (
        cli(
            [
                "add-device",
                "btn-z",
                "--type",
                "button",
                "--facility-id",
                "1",
                "--room",
                "999",
                *data,
            ]
        )
        == 1
    )


def test_a_facility_has_a_time_zone_and_its_radars_judge_nights_in_it(
    hub_server: HubServer, prefix: str
) -> None:
    admin = hub_server.token("admin")
    with hub_server.client(admin) as c:
        r = c.post("/api/facilities", json={"name": "Harbin Home"})
        assert r.status_code == 201 and r.json()["timezone"] == "Asia/Shanghai"
        r = c.post("/api/facilities", json={"name": "London Home", "timezone": "Europe/London"})
        assert r.status_code == 201 and r.json()["timezone"] == "Europe/London"
        london = r.json()["id"]
        r = c.post("/api/facilities", json={"name": "Nowhere", "timezone": "Mars/Olympus"})
        assert r.status_code == 422 and "time zone" in r.text
        r = c.post(
            "/api/devices", json={"id": f"{prefix}radar-lon", "type": "radar", "facility_id": london}
        )
        assert r.status_code == 201
    # The radar processor's behaviour rules for that radar run in London time.
    radar = hub_server.hub.registry.get(f"{prefix}radar-lon")
    assert radar is not None and radar.timezone == "Europe/London"
    seeded = hub_server.hub.registry.get(f"{prefix}radar-1")
    assert seeded is not None and seeded.timezone == "Asia/Shanghai"
