"""Behaviour rules run in the facility's time zone, DST included, never in UTC."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from care_hub.signal_core.behaviour import (
    ResidentSettings,
    daily_summary,
    evaluate,
    is_night,
    local_hour,
    local_midnight,
)
from care_hub.signal_core.zones import ZoneVisit

SHANGHAI = ResidentSettings(timezone="Asia/Shanghai", at_risk_of_falls=True)
LONDON = ResidentSettings(timezone="Europe/London")


def at(tz: str, *args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()  # type: ignore[misc]


def test_night_is_judged_in_shanghai_not_utc() -> None:
    eleven_pm_shanghai = at("Asia/Shanghai", 2026, 12, 3, 23, 0)
    eleven_pm_utc = at("UTC", 2026, 12, 3, 23, 0)  # 07:00 next morning in Shanghai
    assert local_hour(eleven_pm_shanghai, SHANGHAI) == 23.0
    assert is_night(eleven_pm_shanghai, SHANGHAI)
    assert not is_night(eleven_pm_utc, SHANGHAI)
    # The same instants judged in UTC would be the other way round: the old behaviour.
    assert not is_night(eleven_pm_shanghai, ResidentSettings())
    assert is_night(eleven_pm_utc, ResidentSettings())


def test_a_bed_exit_at_23_shanghai_alerts_and_one_at_23_utc_does_not() -> None:
    for left_at, expected in (
        (at("Asia/Shanghai", 2026, 12, 3, 23, 0), True),
        (at("UTC", 2026, 12, 3, 23, 0), False),
    ):
        visits = [
            ZoneVisit(0, "bed", left_at - 3 * 3600, left_at),
            ZoneVisit(0, "room", left_at, None),
        ]
        alerts = evaluate(visits, left_at + 15 * 60, SHANGHAI)
        assert any(a.reason == "bed_exit" for a in alerts) is expected


def test_not_up_by_ten_follows_the_wall_clock_across_a_dst_change() -> None:
    # 29 March 2026: clocks go forward in London at 01:00 UTC; 10:00 local is 09:00 UTC.
    s = ResidentSettings(timezone="Europe/London", up_by_h=10.0)
    went_to_bed = at("Europe/London", 2026, 3, 28, 22, 0)
    visits = [ZoneVisit(0, "bed", went_to_bed, None)]
    assert not evaluate(visits, at("Europe/London", 2026, 3, 29, 9, 59), s)
    late = evaluate(visits, at("Europe/London", 2026, 3, 29, 10, 1), s)
    assert [a.reason for a in late] == ["not_up_by"]
    assert late[0].since_s == at("UTC", 2026, 3, 29, 9, 0)


def test_a_daily_summary_covers_the_local_day_of_23_hours_when_clocks_go_forward() -> None:
    midnight = local_midnight(at("Europe/London", 2026, 3, 29, 12, 0), LONDON)
    assert midnight == at("Europe/London", 2026, 3, 29, 0, 0)
    next_midnight = at("Europe/London", 2026, 3, 30, 0, 0)
    assert next_midnight - midnight == 23 * 3600
    # In bed the whole (short) day and beyond: 23 h counted, not 24.
    visits = [ZoneVisit(0, "bed", midnight - 3600, next_midnight + 3600)]
    summary = daily_summary(visits, midnight, LONDON)
    assert summary.time_in_bed_s == 23 * 3600


def test_a_fixed_offset_still_works_without_a_zone() -> None:
    s = ResidentSettings(utc_offset_s=8 * 3600)
    t = at("Asia/Shanghai", 2026, 12, 3, 23, 30)
    assert local_hour(t, s) == 23.5 and is_night(t, s)
    assert local_midnight(t, s) == at("Asia/Shanghai", 2026, 12, 3, 0, 0)
