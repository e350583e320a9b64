"""Facility time zones: every rule a person reads runs in the facility's local time (IANA names,
DST-safe through zoneinfo), never in UTC."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# The product's users are Chinese care homes; a facility created without a zone is in China's.
DEFAULT_TIMEZONE = "Asia/Shanghai"


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_timezone(name: str) -> str:
    """The name, if it is an IANA time zone this machine knows; ValueError otherwise."""
    if name not in _known():
        try:
            zone(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from None
    return name


def local_datetime(t_s: float, tz: str) -> datetime:
    return datetime.fromtimestamp(t_s, zone(tz))


def local_midnight(t_s: float, tz: str) -> float:
    d = local_datetime(t_s, tz).date()
    return datetime(d.year, d.month, d.day, tzinfo=zone(tz)).timestamp()


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())
