"""Health-kit readings through a real broker: judged (glucose, NEWS2, baseline), served with their
normal bands, exported as FHIR; a family member sees only their own relative's readings."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.conftest import HubServer
from tests.e2e.test_calls import WsReader
from tests.support.mqtt import close_client, connect_client, publish_and_wait, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def kit(seq: int, kind: str, resident: str = "R-1", **values: float) -> bytes:
    return orjson.dumps({"ts": time.time(), "seq": seq, "resident": resident, "kind": kind, "values": values})


def next_vitals_alert(screen: WsReader) -> dict:  # type: ignore[type-arg]
    """The next raised `vitals` alert (the test's silent radars raise device_offline meanwhile)."""
    while True:
        data = screen.next_of("alert.raised")["data"]
        if data["type"] == "vitals":
            return data  # type: ignore[no-any-return]


def test_kit_readings_are_judged_served_with_bands_and_exported(hub_server: HubServer, prefix: str) -> None:
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    client = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    topic = f"care/v1/{prefix}kit-1/kit"
    publish_and_wait(client, topic, kit(1, "spo2", percent=97, pulse=72))  # normal: no alert
    publish_and_wait(client, topic, kit(2, "glucose", mmol_l=2.6))  # level 2 hypoglycaemia (ADA)
    raised = next_vitals_alert(screen)
    assert raised["type"] == "vitals" and raised["resident_id"] == "R-1"
    assert raised["severity"] == "critical"
    assert "glucose" in raised["detail"]["rule"] and raised["detail"]["values"] == {"mmol_l": 2.6}
    # A blood-pressure crisis (>= 180 systolic) is its own situation: a second alert.
    publish_and_wait(client, topic, kit(3, "blood_pressure", systolic=186, diastolic=96))
    crisis = next_vitals_alert(screen)
    assert crisis["type"] == "vitals" and crisis["severity"] == "high" and crisis["id"] != raised["id"]

    with hub_server.client(nurse) as c:
        assert wait_for(lambda: len(c.get("/api/residents/R-1/vitals").json()["readings"]) == 3, timeout=10)
        body = c.get("/api/residents/R-1/vitals", params={"kind": "glucose"}).json()
        assert [r["values"] for r in body["readings"]] == [{"mmol_l": 2.6}]
        assert body["bands"]["glucose"]["mmol_l"] == [3.9, 10.0]
        bundle = c.get("/api/residents/R-1/fhir").json()
    from fhirclient.models.bundle import Bundle  # FHIR R4 4.0.1 (tests/test_fhir.py)

    parsed = Bundle(bundle, strict=True)
    assert parsed.entry[0].resource.resource_type == "Patient"
    observations = [e.resource for e in parsed.entry[1:]]
    codes = {coding.code for o in observations for coding in o.code.coding}
    assert {"59408-5", "14743-9", "85354-9"} <= codes  # SpO2, capillary glucose, BP panel
    with hub_server.client(hub_server.token("family")) as c:
        assert len(c.get("/api/residents/R-1/vitals").json()["readings"]) == 3
        assert c.get("/api/residents/R-2/vitals").status_code == 404  # not their relative
        assert c.get("/api/residents/R-2/fhir").status_code == 404
    screen.close()
    close_client(client)
