"""The admin page in a real browser: an admin admits a resident, edits and discharges them, and
draws a radar's bed zone on the room sketch; every change lands in the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import Site, shot
from tests.conftest import PASSWORD


def test_admin_admits_edits_discharges_and_draws_a_zone(
    site: Site, browser: Any, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.url}/admin")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("tr[data-id='R-1']")
    assert "住户" in page.inner_text("#tabs")  # zh-CN words

    # Admit: R-9 into the first room.
    form = page.locator("form[data-form='admin.admit']")
    form.locator("input[name=id]").fill("R-9")
    form.locator("input[name=name]").fill("张桂兰")
    form.locator("select[name=room_id]").select_option(index=1)
    form.locator("input[name=at_risk_wandering]").check()
    form.locator("button[type=submit]").click()
    row = page.locator("tr[data-id='R-9']")
    row.wait_for()
    admin = site.server.token("admin")
    r9 = site.api("GET", "/api/residents/R-9", admin)
    assert r9["name"] == "张桂兰" and r9["room_id"] is not None and r9["at_risk_wandering"]

    # Edit: a new name through the dialog.
    row.locator(".act-edit").click()
    page.fill("#form-dialog input[name=name]", "张桂兰（床 2）")
    page.click("#dialog-ok")
    page.wait_for_selector("tr[data-id='R-9'] td.name:has-text('床 2')")
    assert site.api("GET", "/api/residents/R-9", admin)["name"] == "张桂兰（床 2）"

    # Discharge, with a note: the row stays (greyed), the API keeps the record.
    page.locator("tr[data-id='R-9'] .act-discharge").click()
    page.fill("#form-dialog input[name=note]", "转院")
    page.click("#dialog-ok")
    page.wait_for_selector("tr[data-id='R-9'].inactive .act-readmit")
    r9 = site.api("GET", "/api/residents/R-9", admin)
    assert r9["discharged_at"] is not None and r9["room_id"] is None
    assert "R-9" not in [r["id"] for r in site.api("GET", "/api/residents", admin)]
    shot(page, artifacts, "admin-residents")

    # Zones: draw the bed on R-1's radar, from (0.5, 3.0) m to (2.0, 4.5) m on the 5 x 5 m plan.
    page.click("#tabs button[data-tab=devices]")
    radar = f"{site.prefix}radar-1"
    page.locator(f"tr[data-id='{radar}'] .act-zones").click()
    page.wait_for_selector("#zone-dialog[open] #sketch")
    page.check("#zone-names input[value=bed]")
    box = page.locator("#sketch").bounding_box()
    scale = box["width"] / 5.0  # pixels per metre on screen

    def at(x_m: float, y_m: float) -> tuple[float, float]:
        return box["x"] + x_m * scale, box["y"] + (5.0 - y_m) * scale

    page.mouse.move(*at(0.5, 3.0))
    page.mouse.down()
    page.mouse.move(*at(1.2, 3.8), steps=4)
    page.mouse.move(*at(2.0, 4.5), steps=4)
    page.mouse.up()
    page.wait_for_selector("#sketch rect[data-zone=bed]")
    assert page.input_value("#zone-offset") == "0"
    page.fill("#zone-offset", "0.9")  # out of range: refused in the page, nothing sent
    page.click("#zone-save")
    page.wait_for_selector("#zone-error:not(:empty)")
    page.fill("#zone-offset", "0.08")  # a radar model that reads 8 cm high
    assert page.text_content("#zone-error") == ""  # a new value clears the complaint
    shot(page, artifacts, "admin-zones")
    page.click("#zone-save")
    page.wait_for_selector("#zone-dialog:not([open])", state="attached")
    bed = site.api("GET", f"/api/devices/{radar}", admin)["zone_map"]["bed"]["rect"]
    assert [round(v, 1) for v in bed] == [0.5, 3.0, 2.0, 4.5]
    assert "chair" in site.api("GET", f"/api/devices/{radar}", admin)["zone_map"]  # others kept
    assert site.api("GET", f"/api/devices/{radar}", admin)["height_offset_m"] == 0.08
    assert site.server.hub.registry.get(radar) is not None
    assert errors == []
    context.close()
