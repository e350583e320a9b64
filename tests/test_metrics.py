"""`/metrics`: Prometheus text that parses, holds every family, moves with a call press and its
acknowledgement, and is readable only with a staff token or the metrics token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr

from tests.conftest import HubServer, demo_seed, make_backend, prepare_database
from tests.e2e.test_calls import alerts, button_payload
from tests.support.mqtt import close_client, connect_client, publish_and_wait, wait_for

METRICS_TOKEN = "scrape-" + uuid.uuid4().hex

FAMILIES = {
    "care_hub_ingest_messages_received",
    "care_hub_ingest_messages_accepted",
    "care_hub_ingest_duplicates",
    "care_hub_ingest_rejected",
    "care_hub_dead_letters_dropped",
    "care_hub_ingest_batch_duration_seconds",
    "care_hub_ingest_backlog_messages",
    "care_hub_ingest_oldest_message_age_seconds",
    "care_hub_ingest_last_progress_age_seconds",
    "care_hub_ingest_stalled",
    "care_hub_alerts_raised",
    "care_hub_alert_time_to_acknowledge_seconds",
    "care_hub_alert_escalations",
    "care_hub_websocket_clients",
    "care_hub_mqtt_connected",
}


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[HubServer, str]]:
    backend = make_backend("embedded", tmp_path, request)
    backend.settings.metrics_token = SecretStr(METRICS_TOKEN)
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    prepare_database(backend, demo_seed(prefix))
    hub = HubServer(backend).start()
    yield hub, prefix
    hub.stop()


def scrape(server: HubServer, token: str = METRICS_TOKEN) -> dict[str, list[Sample]]:
    with server.client(token) as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_metrics_parse_and_move_with_a_call_and_its_acknowledgement(
    server: tuple[HubServer, str],
) -> None:
    hub, prefix = server
    before = scrape(hub)
    assert set(before) >= FAMILIES, FAMILIES - set(before)
    assert value(before["care_hub_alerts_raised"], "care_hub_alerts_raised_total") == 0

    button = connect_client(hub.mqtt_url, f"{prefix}dev")
    try:
        press = button_payload(1)
        publish_and_wait(button, f"care/v1/{prefix}btn-1/button", press, qos=1)
        publish_and_wait(button, f"care/v1/{prefix}btn-1/button", press, qos=1)  # a redelivery
        nurse = hub.token("nurse")
        assert wait_for(lambda: len(alerts(hub, nurse, type="call")) == 1, timeout=10)
        assert wait_for(lambda: hub.hub.pipeline.metrics.duplicates >= 1, timeout=10)
        alert = alerts(hub, nurse, type="call")[0]
        with hub.client(nurse) as c:
            assert c.post(f"/api/alerts/{alert['id']}/ack").status_code == 200
            # A later change of an acknowledged alert is not a second acknowledgement.
            c.post(f"/api/alerts/{alert['id']}/ack")
    finally:
        close_client(button)

    after = scrape(hub)
    raised = after["care_hub_alerts_raised"]
    assert value(raised, "care_hub_alerts_raised_total", type="call") == 1
    assert (
        value(raised, "care_hub_alerts_raised_total", type="call", priority=alert["priority"]) == 1
    )
    ack = after["care_hub_alert_time_to_acknowledge_seconds"]
    assert value(ack, "care_hub_alert_time_to_acknowledge_seconds_count", type="call") == 1
    assert 0 <= value(ack, "care_hub_alert_time_to_acknowledge_seconds_sum") < 60
    ingest = "care_hub_ingest_messages_received_total"
    assert value(after["care_hub_ingest_messages_received"], ingest) >= 2
    assert value(after["care_hub_ingest_duplicates"], "care_hub_ingest_duplicates_total") >= 1
    batches = after["care_hub_ingest_batch_duration_seconds"]
    assert value(batches, "care_hub_ingest_batch_duration_seconds_count") >= 1
    assert value(batches, "care_hub_ingest_batch_duration_seconds_bucket", le="+Inf") == value(
        batches, "care_hub_ingest_batch_duration_seconds_count"
    )
    assert value(after["care_hub_mqtt_connected"], "care_hub_mqtt_connected") == 1


def test_rejections_are_counted_by_reason(server: tuple[HubServer, str]) -> None:
    hub, prefix = server
    device = connect_client(hub.mqtt_url, f"{prefix}dev")
    try:
        publish_and_wait(device, f"care/v1/{prefix}btn-1/button", b"not json", qos=1)
        publish_and_wait(device, f"care/v1/{prefix}nobody/button", button_payload(1), qos=1)
        assert wait_for(lambda: sum(hub.hub.pipeline.metrics.rejected.values()) >= 2, timeout=10)
    finally:
        close_client(device)
    rejected = scrape(hub)["care_hub_ingest_rejected"]
    reasons = {s.labels["reason"] for s in rejected}
    assert "unknown_device" in reasons and len(reasons) >= 2
    assert all(s.value >= 1 for s in rejected)


def test_websocket_clients_gauge(server: tuple[HubServer, str]) -> None:
    from tests.e2e.test_calls import WsReader

    hub, _ = server
    screen = WsReader(hub, hub.token("nurse"))
    try:
        clients = scrape(hub)["care_hub_websocket_clients"]
        assert value(clients, "care_hub_websocket_clients") == 1
    finally:
        screen.close()


def test_metrics_need_a_staff_token_or_the_metrics_token(server: tuple[HubServer, str]) -> None:
    hub, _ = server
    with hub.client() as c:
        assert c.get("/metrics").status_code == 401
    with hub.client("wrong-token") as c:
        assert c.get("/metrics").status_code == 401
    with hub.client(hub.token("family")) as c:
        assert c.get("/metrics").status_code == 403
    assert "care_hub_alerts_raised" in scrape(hub, hub.token("nurse"))
    assert "care_hub_alerts_raised" in scrape(hub, hub.token("admin"))


def test_bus_hook_counts_escalations_and_one_acknowledgement_per_alert() -> None:
    from care_hub.ingest.prometheus import HubMetrics

    metrics = HubMetrics()
    alert = {"id": 7, "type": "fall", "priority": "high", "raised_at": 100.0}
    metrics.on_event({"type": "alert.raised", "data": {**alert, "acknowledged_at": None}})
    metrics.on_event({"type": "alert.escalated", "data": {**alert, "tier": "charge_nurse"}})
    metrics.on_event({"type": "alert.escalated", "data": {**alert, "tier": "charge_nurse"}})
    for _ in range(3):  # acknowledged, then assigned and commented: one acknowledgement
        metrics.on_event({"type": "alert.updated", "data": {**alert, "acknowledged_at": 142.0}})
    metrics.on_event({"type": "system.health", "data": {}})
    families = {
        f.name: f.samples for f in text_string_to_metric_families(metrics.exposition().decode())
    }
    esc = families["care_hub_alert_escalations"]
    assert value(esc, "care_hub_alert_escalations_total", tier="charge_nurse") == 2
    ack = families["care_hub_alert_time_to_acknowledge_seconds"]
    assert value(ack, "care_hub_alert_time_to_acknowledge_seconds_count", type="fall") == 1
    assert value(ack, "care_hub_alert_time_to_acknowledge_seconds_sum", type="fall") == 42.0
    assert value(ack, "care_hub_alert_time_to_acknowledge_seconds_bucket", le="45.0") == 1
    assert value(ack, "care_hub_alert_time_to_acknowledge_seconds_bucket", le="30.0") == 0
