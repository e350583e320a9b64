"""Care records through a real hub: round trips, roles, guidance, observations into NEWS2, overdue
tasks on the wall, and the PDF's Chinese text read back."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import EventBus
from care_records import overdue
from tests.conftest import PASSWORD, HubServer, demo_seed, make_backend, prepare_database

STAFF_NOTE = "staff-only: daughter disputes the bill"
CHINESE_NAME = "王秀英"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[HubServer]:
    backend = make_backend("embedded", tmp_path_factory.mktemp("care"), request)
    seed = demo_seed("care-")
    seed["residents"][0]["name"] = CHINESE_NAME
    seed["residents"].append({"id": "R-9", "name": "Elsewhere", "facility_id": 2})
    prepare_database(backend, seed)
    hub = HubServer(backend).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def clients(server: HubServer) -> Iterator[dict[str, httpx.Client]]:
    out = {u: server.client(server.token(u)) for u in ("admin", "nurse", "nurse2", "family")}
    yield out
    for c in out.values():
        c.close()


def gb(total_short: int = 0) -> dict[str, int]:
    """GB/T 42195 answers: full marks less `total_short` points taken from walking and stairs."""
    from care_records.scales import gbt42195

    answers = {i.key: i.max_points for i in gbt42195.ITEMS}
    answers["walking"] -= min(4, total_short)
    answers["stairs"] -= max(0, total_short - 4)
    return answers


def test_assessment_is_scored_from_items_never_typed_in(clients: dict[str, httpx.Client]) -> None:
    nurse = clients["nurse"]
    body = {
        "scale": "gbt42195",
        "items": gb(5),
        "reason": "admission",
        "total": 90,
        "note": STAFF_NOTE,
    }
    r = nurse.post("/api/care/residents/R-1/assessments", json=body)
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["total"], a["max_total"], a["level"], a["assessor"]) == (85, 90, "mild", "nurse")
    assert a["subscores"]["mobility"] == 10
    bad = nurse.post(
        "/api/care/residents/R-1/assessments", json={"scale": "barthel", "items": {"feeding": 7}}
    )
    assert bad.status_code == 422 and "feeding" in bad.text or "not answered" in bad.text
    mmse = nurse.post(
        "/api/care/residents/R-1/assessments",
        json={"scale": "mmse", "items": {i: 0 for i in ("time_year",)}},
    )
    assert mmse.status_code == 422
    listed = nurse.get("/api/care/residents/R-1/assessments", params={"scale": "gbt42195"}).json()
    assert [x["id"] for x in listed] == [a["id"]]
    scales = {s["scale"]: s for s in nurse.get("/api/care/scales").json()}
    assert len(scales["gbt42195"]["items"]) == 26 and scales["moca"]["needs_education"]


def test_roles_family_and_other_facility(clients: dict[str, httpx.Client]) -> None:
    nurse, nurse2, family, admin = (clients[u] for u in ("nurse", "nurse2", "family", "admin"))
    assert nurse2.get("/api/care/residents/R-1/assessments").status_code == 404
    assert (
        nurse2.post("/api/care/residents/R-1/observations", json={"consciousness": "A"}).status_code
        == 404
    )
    assert nurse.get("/api/care/residents/R-9/plan").status_code == 404
    assert {r["resident_id"] for r in nurse2.get("/api/care/residents").json()} == {"R-9"}
    assert {"R-1", "R-2"} <= {r["resident_id"] for r in nurse.get("/api/care/residents").json()}
    assert "R-9" not in {r["resident_id"] for r in nurse.get("/api/care/residents").json()}
    assert len(admin.get("/api/care/residents").json()) >= 3
    # Family: no staff routes at all; only their own relative's summary.
    for path in (
        "/api/care/residents/R-1/assessments",
        "/api/care/residents/R-1/plan",
        "/api/care/residents",
        "/api/care/reminders",
    ):
        assert family.get(path).status_code == 403, path
    assert family.get("/api/care/family/R-2").status_code == 404
    assert family.get("/api/care/family/R-1").status_code == 200


def test_plan_tasks_and_proof_of_care_for_the_family(clients: dict[str, httpx.Client]) -> None:
    nurse, family = clients["nurse"], clients["family"]
    nurse.put("/api/care/residents/R-1/plan", json={"summary": "扶行"})
    plan = nurse.put(
        "/api/care/residents/R-1/plan",
        json={"summary": "扶行，夜间防跌倒", "goals": ["保持每天散步"], "staff_notes": STAFF_NOTE},
    )
    assert plan.status_code == 200, plan.text
    task = nurse.post(
        "/api/care/residents/R-1/plan/tasks",
        json={"kind": "blood_pressure", "recurrence": "daily", "time_of_day": "08:00"},
    )
    assert task.status_code == 201, task.text
    bad = nurse.post(
        "/api/care/residents/R-1/plan/tasks",
        json={"kind": "night_check", "recurrence": "per_shift", "shift": "evening"},
    )
    assert bad.status_code == 422
    done = nurse.post(f"/api/care/tasks/{task.json()['id']}/complete", json={"note": STAFF_NOTE})
    assert done.status_code == 201 and done.json()["done_by"] == "nurse"
    summary = family.get("/api/care/family/R-1")
    assert summary.status_code == 200
    data = summary.json()
    assert data["summary"] == "扶行，夜间防跌倒" and data["goals"] == ["保持每天散步"]
    assert [d["kind"] for d in data["delivered"]] == ["blood_pressure"]
    assert data["delivered"][0]["done_at"] == pytest.approx(done.json()["done_at"])
    assert STAFF_NOTE not in summary.text and "nurse" not in summary.text
    audit = nurse.get("/api/care/residents/R-1/audit").json()
    assert {"plan.created", "plan.updated", "task.added", "task.completed"} <= {
        a["action"] for a in audit
    }


def test_guidance_suggested_then_accepted_changes_what_it_says(
    clients: dict[str, httpx.Client],
) -> None:
    nurse = clients["nurse"]
    morse = {
        "history_of_falling": 25,
        "secondary_diagnosis": 0,
        "ambulatory_aid": 15,
        "iv_or_heparin_lock": 0,
        "gait": 10,
        "mental_status": 0,
    }
    r = nurse.post("/api/care/residents/R-2/assessments", json={"scale": "morse", "items": morse})
    assert r.json()["level"] == "high"
    suggested = [
        g
        for g in nurse.get("/api/care/residents/R-2/guidance").json()
        if g["rule_id"] == "fall_risk.high"
    ]
    assert len(suggested) == 1 and suggested[0]["state"] == "suggested"
    assert suggested[0]["evidence"]["morse_total"] == 50 and suggested[0]["sources"]
    # Checking again does not suggest it twice.
    assert nurse.post("/api/care/residents/R-2/guidance/refresh").json() == []
    decided = nurse.post(
        f"/api/care/guidance/{suggested[0]['id']}/decision",
        json={"accept": True, "note": "agreed at handover"},
    )
    assert decided.status_code == 200, decided.text
    changes = decided.json()["changes"]
    assert changes["resident"] == {"at_risk_wandering": {"before": False, "after": True}}
    plan = nurse.get("/api/care/residents/R-2/plan").json()
    assert {t["kind"] for t in plan["tasks"]} == {"night_check", "floor_mat"}
    again = nurse.post(f"/api/care/guidance/{suggested[0]['id']}/decision", json={"accept": False})
    assert again.status_code == 409
    actions = {a["action"] for a in nurse.get("/api/care/residents/R-2/audit").json()}
    assert {"guidance.suggested", "guidance.accepted", "task.added"} <= actions


def test_observation_completes_news2_and_raises_a_vitals_alert(
    clients: dict[str, httpx.Client],
) -> None:
    nurse = clients["nurse"]
    r = nurse.post(
        "/api/care/residents/R-2/observations", json={"consciousness": "V", "respiration_rate": 18}
    )
    assert r.status_code == 201, r.text
    alerts = nurse.get("/api/alerts", params={"type": "vitals", "resident_id": "R-2"}).json()
    assert alerts, "a new confusion (V) alone scores 3: an urgent ward-based response"
    detail = alerts[0]["detail"]
    assert detail["news2"]["subscores"]["consciousness"] == 3
    assert "consciousness" not in detail["news2"]["missing"]
    assert alerts[0]["severity"] == "medium"
    assert nurse.post("/api/care/residents/R-2/observations", json={}).status_code == 422
    assert (
        nurse.post(
            "/api/care/residents/R-2/observations", json={"respiration_rate": 200}
        ).status_code
        == 422
    )


def _sweep(server: HubServer, now: float) -> tuple[int, int]:
    async def go() -> tuple[int, int]:
        engine = make_engine(server.backend.settings.db_url)
        factory = make_session_factory(engine)
        bus = EventBus(factory)
        async with factory() as session:
            counts = await overdue.sweep(session, bus, now=now)
            await bus.commit(session)
        await engine.dispose()
        return counts

    return asyncio.run(go())


def test_overdue_task_is_a_low_alert_until_done(
    server: HubServer,
    clients: dict[str, httpx.Client],
) -> None:
    nurse = clients["nurse"]
    task = nurse.post(
        "/api/care/residents/R-1/plan/tasks",
        json={"kind": "hydration", "recurrence": "every_hours", "interval_h": 1},
    ).json()
    later = time.time() + 2 * 3600
    raised, _ = _sweep(server, later)
    assert raised >= 1
    key = overdue.dedupe_key(task["id"])
    open_ = [
        a
        for a in nurse.get("/api/alerts", params={"type": "care_task_overdue"}).json()
        if a["detail"].get("task_id") == task["id"]
    ]
    assert len(open_) == 1, key
    a = open_[0]
    assert (a["severity"], a["priority"], a["state"]) == ("low", "low", "open")
    assert a["resident_id"] is None and a["detail"]["resident"] == CHINESE_NAME
    assert _sweep(server, later + 60) == (0, 0)  # raised once, not again every minute
    # The family never receives staff work items.
    fam = clients["family"].get("/api/alerts").json()
    assert all(x["type"] != "care_task_overdue" for x in fam)
    nurse.post(f"/api/care/tasks/{task['id']}/complete", json={})
    after = nurse.get(f"/api/alerts/{a['id']}").json()
    assert after["state"] == "resolved"


def test_monthly_report_and_pdf_in_chinese_and_english(
    clients: dict[str, httpx.Client],
    tmp_path: Path,
) -> None:
    nurse = clients["nurse"]
    month = datetime.now().strftime("%Y-%m")
    data = nurse.get("/api/care/residents/R-1/report", params={"month": month})
    assert data.status_code == 200, data.text
    report: dict[str, Any] = data.json()
    assert report["resident_name"] == CHINESE_NAME and "gbt42195" in report["latest"]
    assert {c["kind"] for c in report["care"]} >= {"blood_pressure"}
    zh = nurse.get("/api/care/residents/R-1/report.pdf", params={"month": month})
    assert zh.status_code == 200 and zh.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(zh.content)).pages)
    for expected in ("月度护理报告", CHINESE_NAME, "老年人能力评估", "能力轻度受损", "测量血压"):
        assert expected in text, expected
    en = nurse.get("/api/care/residents/R-1/report.pdf", params={"month": month, "lang": "en"})
    text_en = "".join(p.extract_text() for p in PdfReader(io.BytesIO(en.content)).pages)
    assert "Monthly care report" in text_en and CHINESE_NAME in text_en
    assert (
        nurse.get("/api/care/residents/R-1/report", params={"month": "2026-13"}).status_code == 422
    )
    assert (
        clients["family"]
        .get("/api/care/residents/R-1/report.pdf", params={"month": month})
        .status_code
        == 403
    )


def test_reminders_and_the_page(server: HubServer, clients: dict[str, httpx.Client]) -> None:
    due = clients["nurse"].get("/api/care/reminders").json()
    reasons = {(d["resident_id"], d["scale"]): d["reason"] for d in due}
    assert reasons[("R-2", "gbt42195")] == "never_assessed"
    assert ("R-1", "gbt42195") not in reasons  # assessed today
    with server.client() as anon:
        page = anon.get("/care")
        assert page.status_code == 200 and "CareHub" in page.text
        words = anon.get("/locales/zh-CN.json").json()
        assert words["care.scale.gbt42195"].startswith("老年人能力评估")
    assert PASSWORD
