"""Behaviour rules and the daily summary."""

from __future__ import annotations

from care_hub.signal_core.behaviour import ResidentSettings, daily_summary, evaluate
from care_hub.signal_core.zones import ZoneVisit

MIDNIGHT = 1_764_288_000.0  # 2025-11-28 00:00 UTC
H = 3600.0


def v(zone: str, a_h: float, b_h: float | None) -> ZoneVisit:
    return ZoneVisit(0, zone, MIDNIGHT + a_h * H, None if b_h is None else MIDNIGHT + b_h * H)  # type: ignore[arg-type]


def reasons(alerts) -> set[str]:  # type: ignore[no-untyped-def]
    return {a.reason for a in alerts}


def test_bathroom_too_long() -> None:
    visits = [v("room", 12, 13), v("bathroom", 13, None)]
    assert reasons(evaluate(visits, MIDNIGHT + 13.5 * H, ResidentSettings())) == set()
    assert "bathroom_long" in reasons(evaluate(visits, MIDNIGHT + 13.8 * H, ResidentSettings()))


def test_bed_exit_at_night_only_for_at_risk_and_only_if_not_back() -> None:
    visits = [v("bed", -2, 2.0), v("room", 2.0, None)]
    at_risk = ResidentSettings(at_risk_of_falls=True)
    now = MIDNIGHT + 2.25 * H
    assert "bed_exit" in reasons(evaluate(visits, now, at_risk))
    assert "bed_exit" not in reasons(evaluate(visits, now, ResidentSettings()))
    back = visits[:-1] + [v("room", 2.0, 2.1), v("bed", 2.1, None)]
    assert reasons(evaluate(back, now, at_risk)) == set()
    day = [v("bed", 13, 14), v("room", 14, None)]
    assert reasons(evaluate(day, MIDNIGHT + 15 * H, at_risk)) == set()


def test_not_back_to_bed_within_an_hour_at_night() -> None:
    visits = [v("bed", -2, 3.0), v("room", 3.0, None)]
    assert reasons(evaluate(visits, MIDNIGHT + 3.5 * H, ResidentSettings())) == set()
    assert "not_back_to_bed" in reasons(evaluate(visits, MIDNIGHT + 4.1 * H, ResidentSettings()))


def test_not_up_by_set_time() -> None:
    visits = [v("bed", -2, None)]
    assert reasons(evaluate(visits, MIDNIGHT + 9 * H, ResidentSettings())) == set()
    alerts = evaluate(visits, MIDNIGHT + 10.5 * H, ResidentSettings())
    assert "not_up_by" in reasons(alerts)
    assert "not_up_by" not in reasons(
        evaluate(visits, MIDNIGHT + 10.5 * H, ResidentSettings(up_by_h=None))
    )


def test_no_movement_for_residents_living_alone() -> None:
    visits = [v("chair", 8, None)]
    last = MIDNIGHT + 8 * H
    alone = ResidentSettings(lives_alone=True)
    assert reasons(evaluate(visits, MIDNIGHT + 19 * H, alone, last)) == set()
    assert "no_movement" in reasons(evaluate(visits, MIDNIGHT + 20.5 * H, alone, last))
    assert reasons(evaluate(visits, MIDNIGHT + 20.5 * H, ResidentSettings(), last)) == set()


def test_alert_key_is_stable_per_situation() -> None:
    visits = [v("room", 12, 13), v("bathroom", 13, None)]
    a = evaluate(visits, MIDNIGHT + 14 * H, ResidentSettings())
    b = evaluate(visits, MIDNIGHT + 15 * H, ResidentSettings())
    assert [x.key for x in a] == [x.key for x in b]


def test_daily_summary() -> None:
    visits = [
        v("bed", -2, 3),  # night exit at 03:00
        v("bathroom", 3, 3.25),
        v("bed", 3.25, 8),  # morning exit at 08:00 is not a night exit
        v("room", 8, 12),
        v("away", 12, 14),
        v("bathroom", 14, 14.5),
        v("room", 14.5, 22.5),
        v("bed", 22.5, None),
    ]
    s = daily_summary(visits, MIDNIGHT)
    assert s.time_in_bed_s == (3 + 4.75 + 1.5) * H
    assert s.bathroom_visits == 2
    assert s.night_bed_exits == 1
    assert s.time_away_s == 2 * H
    assert s.time_active_s == (0.25 + 4 + 0.5 + 8) * H
    assert s.room_changes == 7


def test_not_in_bed_by_set_time_only_when_asked_for() -> None:
    by_2330 = ResidentSettings(in_bed_by_h=23.5)
    up_late = [v("room", 18, 22), v("chair", 22, None)]
    assert reasons(evaluate(up_late, MIDNIGHT + 23.0 * H, by_2330)) == set()  # not yet 23:30
    alerts = evaluate(up_late, MIDNIGHT + 23.75 * H, by_2330)
    assert "not_in_bed_by" in reasons(alerts)
    assert {a.since_s for a in alerts if a.reason == "not_in_bed_by"} == {MIDNIGHT + 23.5 * H}
    # Same after midnight (the set time was yesterday), with a stable key.
    later = evaluate(up_late, MIDNIGHT + 24.5 * H, by_2330)
    assert {a.key for a in later if a.reason == "not_in_bed_by"} == {
        a.key for a in alerts if a.reason == "not_in_bed_by"
    }
    assert reasons(evaluate(up_late, MIDNIGHT + 23.75 * H, ResidentSettings())) == set()  # off
    went_to_bed = [v("room", 18, 23.2), v("bed", 23.2, None)]
    assert reasons(evaluate(went_to_bed, MIDNIGHT + 23.75 * H, by_2330)) == set()
    out = [v("room", 18, 21), v("away", 21, None)]  # not at home: not this rule's business
    assert "not_in_bed_by" not in reasons(evaluate(out, MIDNIGHT + 23.75 * H, by_2330))
