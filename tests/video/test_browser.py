"""Two headless Chromium pages against a real hub: a nurse's page and a resident's screen. The
call connects and both sides decode video frames (fake camera), hang-up on one side ends the
other, the camera is off outside calls; a video call-button press, acknowledged, opens video."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import IN_CI, HubServer, make_backend, prepare_database
from tests.support.mqtt import close_client, connect_client, publish_and_wait
from tests.video.conftest import resident_screen, video_seed

CHROMIUM = os.environ.get("CARE_HUB_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed: pip install -e '.[test]'")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing; apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _off_loop(fn: Any, *args: Any) -> Any:
    """Set-up that calls asyncio.run() (migrations, seed) runs outside Playwright's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture
def hub(chromium: Any, tmp_path: Path, request: pytest.FixtureRequest, prefix: str) -> Iterator[HubServer]:
    backend = make_backend("embedded", tmp_path, request)
    _off_loop(prepare_database, backend, video_seed(prefix))
    server = _off_loop(lambda: HubServer(backend).start())
    yield server
    _off_loop(server.stop)


def open_page(browser: Any, url: str, *, session_token: str | None = None) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    if session_token:
        context.add_init_script(f"sessionStorage.setItem('care-hub.token', {orjson.dumps(session_token).decode()})")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.careHubVideo && window.careHubVideo.state.connected", timeout=15_000)
    return page


def frames_decoded(page: Any) -> int:
    stats = page.evaluate("window.careHubVideo.stats()")
    return sum(s["framesDecoded"] for s in stats)


def wait_frames(pages: list[Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(frames_decoded(p) > 0 for p in pages):
            return
        time.sleep(0.25)
    raise AssertionError([p.evaluate("window.careHubVideo.stats()") for p in pages])


def test_nurse_calls_resident_video_flows_both_ways_and_hang_up_ends_both(
    hub: HubServer, chromium: Any
) -> None:
    s = hub
    screen = resident_screen(s, "R-1")
    tablet = open_page(chromium, f"{s.base_url}/video/resident#token={screen['access_token']}")
    nurse = open_page(chromium, f"{s.base_url}/video/staff", session_token=s.token("nurse"))
    # Idle: no camera, no indicator; the token left the address bar.
    assert tablet.evaluate("window.careHubVideo.state.cameraOn") is False
    assert tablet.locator("#video-live").is_hidden()
    assert "token=" not in tablet.url
    assert "等待来电" in tablet.inner_text("body")

    nurse.locator("[data-video-dial]").click()
    nurse.locator(".video-call-resident[data-resident='R-1']").click()
    tablet.wait_for_selector(".cv-answer", timeout=10_000)
    assert "来电" in tablet.inner_text(".cv-title")
    tablet.locator(".cv-answer").click()
    wait_frames([nurse, tablet])
    for page in (nurse, tablet):  # the indicator on both ends while the camera is on
        assert page.locator("#video-live").is_visible()
        assert page.evaluate("window.careHubVideo.state.cameraOn") is True

    tablet.locator(".cv-hangup").click()
    nurse.wait_for_function("window.careHubVideo.state.current === null", timeout=10_000)
    assert nurse.evaluate("window.careHubVideo.state.lastOutcome") == "ended"
    for page in (nurse, tablet):
        assert page.evaluate("window.careHubVideo.state.cameraOn") is False
        assert page.locator("#video-live").is_hidden()
        assert page.errors == []
    with s.client(s.token("nurse")) as c:
        rows = c.get("/api/video/calls").raise_for_status().json()
    assert rows[0]["outcome"] == "ended" and rows[0]["duration_s"] > 0


def test_video_button_press_acknowledged_opens_video(hub: HubServer, chromium: Any) -> None:
    s = hub
    screen = resident_screen(s, "R-1")
    tablet = open_page(chromium, f"{s.base_url}/video/resident#token={screen['access_token']}")
    nurse_token = s.token("nurse")
    nurse = open_page(chromium, f"{s.base_url}/video/staff", session_token=nurse_token)
    prefix = next(d for d in s.hub.registry._by_id if d.endswith("btn-1")).removesuffix("btn-1")
    client = connect_client(s.mqtt_url, f"{prefix}video-btn")
    payload = orjson.dumps({"ts": time.time(), "seq": 1, "action": "call"})
    publish_and_wait(client, f"care/v1/{prefix}btn-1/button", payload, qos=1)
    close_client(client)
    alert: dict[str, Any] | None = None
    deadline = time.monotonic() + 15
    with s.client(nurse_token) as c:
        while alert is None and time.monotonic() < deadline:
            alerts = c.get("/api/alerts", params={"type": "call", "state": "open"}).json()
            alert = next((a for a in alerts if a["resident_id"] == "R-1"), None)
            time.sleep(0.1)
    assert alert is not None and alert["detail"].get("video") is True
    # The page acknowledges as the wall does (its own fetch): the video call opens by itself,
    # and the resident, who asked for it, is answered without a tap.
    nurse.evaluate(
        """([id, token]) => fetch(`/api/alerts/${id}/ack`, {method: "POST",
             headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json"}, body: "{}"})""",
        [alert["id"], nurse_token],
    )
    wait_frames([nurse, tablet])
    call = nurse.evaluate("window.careHubVideo.state.current")
    assert call["kind"] == "button" and call["alert_id"] == alert["id"]
    nurse.locator(".cv-hangup").click()
    tablet.wait_for_function("window.careHubVideo.state.current === null", timeout=10_000)
    assert tablet.evaluate("window.careHubVideo.state.cameraOn") is False
