"""The family page in a real browser: their relative's trail updates live, never another's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import Site, shot
from tests.conftest import PASSWORD
from tests.e2e.test_falls_e2e import replay


def test_family_sees_their_relative_live_and_never_another_resident(
    site: Site, browser: Any, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 414, "height": 896}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site.url}/family")
    page.fill("input[name=username]", "family")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#conn.conn-live", timeout=15_000)
    page.wait_for_selector("article.person[data-resident='R-1']")
    before = page.inner_text("article.person .now-where")
    # Both residents move about; only R-1's stays may reach this page.
    replay(site.server, site.prefix, "lie_on_bed", seed=12, radar="radar-1")
    replay(site.server, site.prefix, "lie_on_bed", seed=13, radar="radar-2")
    page.wait_for_function(
        "(before) => document.querySelector('article.person .now-where').textContent !== before",
        arg=before,
        timeout=30_000,
    )
    assert page.locator("article.person").count() == 1
    text = page.inner_text("body")
    assert "Resident 1" in text and "Resident 2" not in text
    assert "今天" in text
    shot(page, artifacts, "family")
    context.close()
