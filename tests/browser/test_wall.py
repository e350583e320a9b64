"""The wall screen in a real browser: a floor's TV signed in with a screen link, sound armed,
calls and falls on it, acknowledgement by person, a lost link and a refused sign-in as alarms."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.browser.conftest import Site, shot
from tests.conftest import PASSWORD
from tests.e2e.test_falls_e2e import replay
from tests.support.mqtt import Collector, close_client, connect_client, publish_and_wait


def press(site: Site, button: str, seq: int, action: str = "call") -> None:
    client = connect_client(site.server.mqtt_url, f"{site.prefix}{button}-{seq}-pub")
    payload = orjson.dumps({"ts": time.time(), "seq": seq, "action": action})
    publish_and_wait(client, f"care/v1/{site.prefix}{button}/button", payload, qos=1)
    close_client(client)


def screen_link(site: Site, name: str = "1F", floor: str = "1", **extra: Any) -> tuple[str, int]:
    admin = site.server.token("admin")
    made = site.api("POST", "/api/screens", admin, json={"facility_id": 1, "name": name, **extra})
    return f"{site.url}/wall?floor={floor}#screen={made['access_token']}", made["id"]


def open_wall(browser: Any, url: str, lang: str = "zh-CN") -> Any:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale=lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#conn.conn-live", timeout=15_000)
    page.errors = errors
    return page


def played(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.careHubWall.alarm.played")  # type: ignore[no-any-return]


@pytest.mark.parametrize("site", [30], indirect=True)
def test_floor_wall_fits_30_rooms_sounds_a_fall_and_a_call_and_names_who_acknowledged(
    site: Site, browser: Any, artifacts: Path
) -> None:
    url, _ = screen_link(site)
    page = open_wall(browser, url)
    # A kiosk browser lets sound start without a click: armed, and no warning shown.
    assert page.evaluate("window.careHubWall.alarm.enabled") is True
    assert page.locator("#sound-blocked").is_hidden()
    assert page.locator(".tile").count() == 30
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080

    replay(site.server, site.prefix, "fall_forward", seed=11, radar="radar-3")
    page.wait_for_selector(".alert-row[data-type=fall]", timeout=30_000)
    # The fall's row says what the radar saw, in Chinese: the drop, how fast, time down.
    why = page.inner_text(".alert-row[data-type=fall] .alert-detail")
    assert re.fullmatch(r"检测到跌倒：[\d.]+ 秒内下降 [\d.]+ 米，已倒地 \d+ 秒", why), why
    with Collector(
        site.server.mqtt_url, [f"care/v1/{site.prefix}btn-1/cmd"], client_id=f"{site.prefix}cmd"
    ) as cmds:
        press(site, "btn-1", 1)
        page.wait_for_selector(".alert-row[data-type=call]", timeout=15_000)
        sounds = played(page)
        assert {"fall", "call"} <= {s["category"] for s in sounds if s["audible"]}
        # Plain words, in Chinese: no rule ids or device ids on screen.
        text = page.inner_text("body")
        assert "跌倒" in text and "呼叫" in text and "按下了呼叫按钮" in text
        assert site.prefix not in text and "rule" not in text
        assert page.evaluate("document.documentElement.scrollHeight") <= 1080
        time.sleep(1.5)  # the age counters and the clock have ticked
        shot(page, artifacts, "wall-screen")
        assert page.errors == []

        page.locator(".alert-row[data-type=call] .btn-ack").click()
        page.locator(".who-person", has_text="nurse").first.click()
        page.wait_for_selector(".alert-row[data-type=call].state-acknowledged", timeout=10_000)
        assert cmds.wait_commands(1, timeout=10)
        assert cmds.commands()[0]["cmd"] == "call_acknowledged"
    assert "nurse" in page.inner_text(".alert-row[data-type=call] .alert-ack")
    page.context.close()


def test_lost_link_alarms_within_10_s_and_shows_what_was_missed(
    site: Site, browser: Any, artifacts: Path
) -> None:
    url, _ = screen_link(site)
    page = open_wall(browser, url, lang="en")
    site.proxy.cut()
    t0 = time.monotonic()
    press(site, "btn-2", 1)  # arrives at the hub while the screen cannot hear it
    page.wait_for_selector("#link-alarm[data-kind=connection]", state="visible", timeout=14_000)
    assert time.monotonic() - t0 < 13.5
    assert any(s["category"] == "link" and s["audible"] for s in played(page))
    shot(page, artifacts, "wall-link-lost")
    site.proxy.restore()
    page.wait_for_selector("#link-alarm", state="hidden", timeout=15_000)
    page.wait_for_selector(".alert-row[data-type=call] .badge.missed", timeout=10_000)
    assert "Room 102" in page.inner_text(".alert-row[data-type=call]")
    page.context.close()


def test_a_refused_screen_sign_in_is_an_alarm_not_a_silent_login_page(
    site: Site, browser: Any, artifacts: Path
) -> None:
    url, screen_id = screen_link(site)
    page = open_wall(browser, url, lang="en")
    admin = site.server.token("admin")
    site.api("PATCH", f"/api/users/{screen_id}", admin, json={"active": False})
    page.wait_for_selector("#link-alarm[data-kind=signed_out]", state="visible", timeout=20_000)
    assert page.locator("#login").is_hidden()
    assert page.locator("#link-alarm-signin").is_hidden()  # a TV has nobody to type a password
    assert any(s["category"] == "link" for s in played(page))
    shot(page, artifacts, "wall-signed-out")
    page.context.close()


def test_phone_view_at_390_px_acknowledges_and_resolves(
    site: Site, browser: Any, artifacts: Path
) -> None:
    press(site, "btn-1", 1)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site.url}/phone")
    page.fill("input[name=username]", "nurse")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(".alert-row[data-type=call]", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, artifacts, "phone")
    page.locator(".alert-row[data-type=call] .btn-ack").click()
    page.wait_for_selector(".alert-row[data-type=call].state-acknowledged", timeout=10_000)
    page.locator(".alert-row[data-type=call] .btn-resolve").click()
    page.locator("#resolve-ok").click()
    page.wait_for_selector(".alert-row[data-type=call]", state="detached", timeout=10_000)
    context.close()
