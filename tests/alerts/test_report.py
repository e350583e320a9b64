"""Response-time statistics and false-alarm rates: pure definitions, the API and `care-hub report`."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import service
from alerts.report import AlertTimes, build_report, response_time_report
from care_hub.cli import main as cli_main
from tests.alerts.conftest import Db

T0 = 1_764_331_200.0  # 12:00 UTC (day shift)


def _call(
    i: int, ack_s: float, presence_s: float, close_s: float, shift: str = "day"
) -> AlertTimes:
    raised = T0 + 1000 * i
    return AlertTimes(
        1,
        "call",
        shift,
        raised,
        raised + ack_s,
        raised + ack_s + presence_s,
        raised + ack_s + presence_s + close_s,
        "assisted",
        None,
    )


def test_median_and_p90_per_stage_and_shift() -> None:
    rows = [_call(i, ack_s=10.0 * (i + 1), presence_s=60.0, close_s=120.0 + i) for i in range(10)]
    rows.append(_call(20, ack_s=999.0, presence_s=0.0, close_s=0.0, shift="night"))
    cancelled = AlertTimes(1, "call", "day", T0, T0 + 5, None, T0 + 5, "cancelled", None)
    out = {(r["shift"], r["type"]): r for r in response_time_report([*rows, cancelled])}
    day = out[("day", "call")]
    assert day["alerts"] == 11 and day["raise_to_ack"]["n"] == 10  # the cancelled call is left out
    assert day["raise_to_ack"]["median_s"] == 55.0 and day["raise_to_ack"]["p90_s"] == 91.0
    assert day["ack_to_presence"]["median_s"] == 60.0
    assert day["presence_to_resolve"]["median_s"] == 124.5
    assert out[("night", "call")]["raise_to_ack"]["median_s"] == 999.0
    assert out[("all", "call")]["raise_to_ack"]["n"] == 11
    assert day["false_alarm_rate"] == 0.0 and day["resolved"] == 10


def test_false_alarm_rate_counts_fall_answers() -> None:
    def fall(outcome: str | None, answers: dict[str, bool] | None) -> AlertTimes:
        return AlertTimes(1, "fall", "day", T0, T0 + 30, None, T0 + 300, outcome, answers)

    no = {"on_floor": False, "was_resident": True, "unintentional": True}
    yes = {"on_floor": True, "was_resident": True, "unintentional": True}
    rows = [
        fall("false_alarm", None),
        fall("resolved", no),
        fall("real_fall", yes),
        fall("resolved", yes),
    ]
    (all_row,) = [r for r in response_time_report(rows) if r["shift"] == "all"]
    assert (all_row["false_alarms"], all_row["resolved"], all_row["false_alarm_rate"]) == (
        2,
        4,
        0.5,
    )


async def test_report_from_the_database_with_presence(db: Db) -> None:
    async with db.factory() as session:
        alert, _ = await service.raise_alert(
            session,
            db.bus,
            type="call",
            severity="high",
            facility_id=1,
            resident_id="R-1",
            device_id="t-btn-1",
            dedupe_key="call:t-btn-1",
            detail={},
            at=T0,
        )
        await service.acknowledge(session, db.bus, alert, actor="nurse", source="api", at=T0 + 40)
        # Presence after a screen acknowledged: still recorded, as an acknowledged audit row.
        await service.record_presence(session, db.bus, alert, actor="t-btn-1", at=T0 + 100)
        await service.resolve(
            session, db.bus, alert, actor="nurse", source="api", outcome="assisted", at=T0 + 400
        )
        await db.bus.commit(session)
        report = await build_report(session, since=T0 - 1, until=T0 + 1000)
    (day,) = [r for r in report["rows"] if r["shift"] == "day"]
    assert day["raise_to_ack"]["median_s"] == 40.0
    assert day["ack_to_presence"]["median_s"] == 60.0
    assert day["presence_to_resolve"]["median_s"] == 300.0
    assert "8 minutes" in report["context"]


def test_cli_report_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from care_hub import migrate

    data = tmp_path / "var"
    data.mkdir()
    migrate.upgrade(f"sqlite+aiosqlite:///{(data / 'care-hub.db').resolve()}")
    assert cli_main(["report", "--data-dir", str(data), "--days", "7"]) == 0
    out = capsys.readouterr().out
    assert "no alerts in this window" in out and "8 minutes" in out


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_report_endpoint_is_for_staff(alert_hub) -> None:  # type: ignore[no-untyped-def]
    with alert_hub.client(alert_hub.token("nurse")) as c:
        r = c.get("/api/reports/response-times")
        assert r.status_code == 200 and r.json()["facility_id"] == 1
    with alert_hub.client(alert_hub.token("family")) as c:
        assert c.get("/api/reports/response-times").status_code == 403
