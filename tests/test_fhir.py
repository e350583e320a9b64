"""FHIR export: a collection Bundle of vital-sign Observations, validated with fhir.resources.

fhir.resources 8.x ships R5 at the top level and R4B under ``fhir.resources.R4B`` (there is no R4
package). R4B's Bundle and Observation are unchanged from R4 for everything exported here, so the
R4B models validate this output.
"""

from __future__ import annotations

import json

import pytest

from family_portal.fhir import vitals_bundle

pytest.importorskip("fhir.resources")
from fhir.resources.R4B.bundle import Bundle  # noqa: E402

RESIDENT = "R-0042"
TS = 1_764_320_200.0

RECORDS = [
    {"kind": "blood_pressure", "values": {"systolic": 182, "diastolic": 95, "pulse": 88}, "ts": TS, "source": "kit-7"},
    {"kind": "spo2", "values": {"percent": 95, "pulse": 90}, "ts": TS + 60.5, "source": "kit-7"},
    {"kind": "temperature", "values": {"celsius": 37.9}, "ts": TS + 120, "source": "kit-7"},
    {"kind": "glucose", "values": {"mmol_l": 5.4}, "context": "fasting", "ts": TS + 180, "source": "kit-7"},
    {"kind": "pulse", "values": {"bpm": 71}, "ts": TS + 240, "source": "kit-7"},
    {"kind": "radar_vitals", "values": {"breathing_bpm": 14.2, "heart_bpm": 64.8}, "ts": TS - 60, "source": "radar-3"},
]  # fmt: skip


def codes(obs: dict) -> list[str]:
    return [c["code"] for c in obs["code"]["coding"]]


def test_bundle_validates_against_fhir_r4b_models() -> None:
    bundle = vitals_bundle(RESIDENT, RECORDS, timestamp_s=TS + 300, bundle_id="export-1")
    model = Bundle.model_validate(bundle)
    assert model.type == "collection"
    assert len(model.entry) == 9
    json.dumps(bundle)


def test_observations_carry_loinc_ucum_category_subject_and_time() -> None:
    entries = vitals_bundle(RESIDENT, RECORDS)["entry"]
    obs = [e["resource"] for e in entries]
    assert [o["effectiveDateTime"] for o in obs] == sorted(o["effectiveDateTime"] for o in obs)
    assert all(o["subject"] == {"reference": "Patient/R-0042"} for o in obs)
    by_code = {codes(o)[0]: o for o in obs}

    bp = by_code["85354-9"]
    comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
    assert comps["8480-6"]["value"] == 182 and comps["8462-4"]["value"] == 95
    assert (
        comps["8480-6"]["code"] == "mm[Hg]"
        and comps["8480-6"]["system"] == "http://unitsofmeasure.org"
    )

    spo2 = by_code["59408-5"]
    assert codes(spo2) == ["59408-5", "2708-6"]
    assert spo2["valueQuantity"]["code"] == "%"
    assert spo2["effectiveDateTime"] == "2025-11-28T08:57:40.500Z"

    temp = by_code["8310-5"]
    assert temp["valueQuantity"]["code"] == "Cel" and temp["valueQuantity"]["value"] == 37.9

    glucose = by_code["14743-9"]
    assert glucose["valueQuantity"]["code"] == "mmol/L"
    assert glucose["category"][0]["coding"][0]["code"] == "laboratory"
    assert glucose["note"][0]["text"] == "context: fasting"

    vital = [o for o in obs if codes(o)[0] != "14743-9"]
    assert all(o["category"][0]["coding"][0]["code"] == "vital-signs" for o in vital)

    hr = [o for o in obs if codes(o) == ["8867-4"]]
    assert sorted(o["valueQuantity"]["value"] for o in hr) == [64.8, 71, 88, 90]
    assert all(o["valueQuantity"]["code"] == "/min" for o in hr)
    rr = [o for o in obs if codes(o) == ["9279-1"]]
    assert len(rr) == 1 and rr[0]["device"] == {"display": "radar-3"}


def test_export_is_deterministic_and_full_urls_unique() -> None:
    a = vitals_bundle(RESIDENT, RECORDS)
    b = vitals_bundle(RESIDENT, list(reversed(RECORDS)))
    assert a == b
    urls = [e["fullUrl"] for e in a["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)


def test_unknown_kinds_and_empty_values_are_skipped() -> None:
    bundle = vitals_bundle(
        RESIDENT,
        [
            {"kind": "weight", "values": {"kg": 70}, "ts": TS},
            {"kind": "spo2", "values": {}, "ts": TS},
        ],
    )
    assert bundle["entry"] == []
    Bundle.model_validate(bundle)
