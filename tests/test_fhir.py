"""FHIR export: a collection Bundle of the Patient and their vital-sign Observations, validated
against FHIR R4 (4.0.1) proper.

fhir.resources 7 and later ship R5 at the top level and R4B (4.3.0) under ``fhir.resources.R4B``;
R4 itself is only in fhir.resources 6.x, which cannot be installed beside the 8.x the project has.
R4 proper comes from fhirclient 4.x, whose models are generated from FHIR 4.0.1 and, with
``strict=True``, refuse unknown elements, wrong types and missing required elements. The R4B
models check the same bundle as a second opinion (strict pydantic, value-level checks such as
id and uri patterns that fhirclient does not make).
"""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from fhirclient.models.bundle import Bundle as BundleR4
from fhirclient.models.fhirabstractbase import FHIRValidationError

from family_portal.fhir import patient_full_url, vitals_bundle

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


def test_fhirclient_models_are_r4() -> None:
    import inspect

    import fhirclient.models.bundle as module

    assert "Generated from FHIR 4.0.1" in inspect.getsource(module)


def test_bundle_validates_against_fhir_r4() -> None:
    bundle = vitals_bundle(
        RESIDENT, RECORDS, timestamp_s=TS + 300, bundle_id="export-1", resident_name="Wang Fang"
    )
    model = BundleR4(bundle, strict=True)
    assert model.type == "collection"
    assert len(model.entry) == 10
    assert model.entry[0].resource.resource_type == "Patient"
    assert all(e.resource.resource_type == "Observation" for e in model.entry[1:])
    assert model.as_json() == json.loads(json.dumps(bundle))  # nothing dropped or changed
    assert BundleR4B.model_validate(bundle).type == "collection"


def test_r4_validation_catches_a_broken_bundle() -> None:
    bundle = vitals_bundle(RESIDENT, RECORDS)
    del bundle["entry"][1]["resource"]["status"]  # required (1..1) on Observation
    with pytest.raises(FHIRValidationError):
        BundleR4(bundle, strict=True)
    bundle = vitals_bundle(RESIDENT, RECORDS)
    bundle["entry"][1]["resource"]["valueFloat"] = 1.0  # no such element in R4
    with pytest.raises(FHIRValidationError):
        BundleR4(bundle, strict=True)


def test_patient_leads_and_every_observation_references_it() -> None:
    bundle = vitals_bundle(RESIDENT, RECORDS, resident_name="Wang Fang")
    patient_entry, *observations = bundle["entry"]
    patient = patient_entry["resource"]
    assert patient["resourceType"] == "Patient"
    assert patient["identifier"] == [{"system": "urn:care-hub:resident-id", "value": RESIDENT}]
    assert patient["name"] == [{"text": "Wang Fang"}]
    assert patient_entry["fullUrl"] == patient_full_url(RESIDENT)
    refs = {o["resource"]["subject"]["reference"] for o in observations}
    assert refs == {patient_entry["fullUrl"]}
    assert patient_full_url(RESIDENT) != patient_full_url("R-0043")


def test_observations_carry_loinc_ucum_category_subject_and_time() -> None:
    entries = vitals_bundle(RESIDENT, RECORDS)["entry"][1:]
    obs = [e["resource"] for e in entries]
    assert [o["effectiveDateTime"] for o in obs] == sorted(o["effectiveDateTime"] for o in obs)
    assert all(o["subject"] == {"reference": patient_full_url("R-0042")} for o in obs)
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
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]
    BundleR4(bundle, strict=True)
