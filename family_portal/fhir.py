"""Export a resident's vitals as a FHIR R4 (4.0.1) Bundle (type ``collection``): the Patient and
their Observations.

The Patient entry comes first, with a deterministic ``urn:uuid`` fullUrl; every Observation's
``subject`` references that fullUrl, so a receiving system resolves it inside the bundle (a
relative ``Patient/<id>`` reference resolves only against RESTful fullUrls). The resident's id is
the Patient's identifier (system ``RESIDENT_ID_SYSTEM``), since a hub id is not a clinic's MRN.

Pure: plain records in, a JSON-ready dict out. Codes follow the FHIR R4 vital-signs profile
(http://hl7.org/fhir/R4/observation-vitalsigns.html) and US Core:

| record kind | LOINC | unit (UCUM) | category |
| --- | --- | --- | --- |
| pulse / heart rate | 8867-4 Heart rate | /min | vital-signs |
| respiratory rate | 9279-1 Respiratory rate | /min | vital-signs |
| spo2 | 59408-5 SpO2 by pulse oximetry + 2708-6 SaO2 (US Core asks for both) | % | vital-signs |
| blood pressure | 85354-9 BP panel; components 8480-6 systolic, 8462-4 diastolic | mm[Hg] | vital-signs |
| temperature | 8310-5 Body temperature | Cel | vital-signs |
| glucose | 14743-9 Glucose [Moles/volume] in Capillary blood by Glucometer | mmol/L | laboratory |

A record is a mapping (or an object with attributes) with ``kind``, ``values`` (names and units as
in PROTOCOL.md kit payloads), ``ts`` (UNIX seconds) and ``source`` (e.g. a device id). A pulse
carried inside a blood-pressure or SpO2 record becomes its own heart-rate Observation. Radar vitals
come as kind ``radar_vitals`` with ``breathing_bpm`` and/or ``heart_bpm``, or as ``heart_rate`` /
``respiratory_rate`` with ``bpm``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# Deterministic ids: the same record always exports to the same fullUrl (uuid5 in this namespace).
_NAMESPACE = uuid.UUID("6f1d3a52-8c0e-4f1e-9a57-3c2b1d0e9f41")
RESIDENT_ID_SYSTEM = "urn:care-hub:resident-id"

HEART_RATE = ("8867-4", "Heart rate")
RESPIRATORY_RATE = ("9279-1", "Respiratory rate")
SPO2 = ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")
SAO2 = ("2708-6", "Oxygen saturation in Arterial blood")
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
BODY_TEMPERATURE = ("8310-5", "Body temperature")
GLUCOSE_CAPILLARY = ("14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer")

PER_MIN = {"value_unit": "/min", "code": "/min"}
PERCENT = {"value_unit": "%", "code": "%"}
MMHG = {"value_unit": "mmHg", "code": "mm[Hg]"}
CELSIUS = {"value_unit": "Cel", "code": "Cel"}
MMOL_L = {"value_unit": "mmol/L", "code": "mmol/L"}


def _get(rec: Any, name: str, default: Any = None) -> Any:
    if isinstance(rec, Mapping):
        return rec.get(name, default)
    return getattr(rec, name, default)


def _iso(ts_s: float) -> str:
    dt = datetime.fromtimestamp(float(ts_s), tz=UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _coding(code: tuple[str, str]) -> dict[str, str]:
    return {"system": LOINC, "code": code[0], "display": code[1]}


def _quantity(value: float, unit: Mapping[str, str]) -> dict[str, Any]:
    return {"value": float(value), "unit": unit["value_unit"], "system": UCUM, "code": unit["code"]}


def _category(code: str) -> list[dict[str, Any]]:
    display = {"vital-signs": "Vital Signs", "laboratory": "Laboratory"}[code]
    return [{"coding": [{"system": OBS_CATEGORY, "code": code, "display": display}]}]


def patient_full_url(resident_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'patient|{resident_id}')}"


def patient_resource(resident_id: str, name: str | None = None) -> dict[str, Any]:
    """The Patient: the hub's resident id as identifier, and the name as the hub holds it (one
    text, since the hub does not split family and given names)."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": resident_id}],
        "active": True,
    }
    if name:
        patient["name"] = [{"text": name}]
    return patient


def _observation(
    resident_id: str,
    codes: list[tuple[str, str]],
    ts_s: float,
    source: str | None,
    *,
    category: str = "vital-signs",
    value: dict[str, Any] | None = None,
    components: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": _category(category),
        "code": {"coding": [_coding(c) for c in codes], "text": codes[0][1]},
        "subject": {"reference": patient_full_url(resident_id)},
        "effectiveDateTime": _iso(ts_s),
    }
    if value is not None:
        obs["valueQuantity"] = value
    if components:
        obs["component"] = components
    if source:
        obs["device"] = {"display": str(source)}
    return obs


def observations_for_record(resident_id: str, rec: Any) -> list[dict[str, Any]]:
    """The Observations one record exports to (empty for an unknown kind or no usable value)."""
    kind = str(_get(rec, "kind", ""))
    values: Mapping[str, Any] = _get(rec, "values", {}) or {}
    ts = float(_get(rec, "ts"))
    source = _get(rec, "source")
    out: list[dict[str, Any]] = []

    def num(name: str) -> float | None:
        v = values.get(name)
        return None if v is None else float(v)

    def heart(bpm: float | None) -> None:
        if bpm is not None:
            out.append(
                _observation(resident_id, [HEART_RATE], ts, source, value=_quantity(bpm, PER_MIN))
            )

    def breathing(per_min: float | None) -> None:
        if per_min is not None:
            out.append(
                _observation(
                    resident_id, [RESPIRATORY_RATE], ts, source, value=_quantity(per_min, PER_MIN)
                )
            )

    if kind == "blood_pressure":
        sys_, dia = num("systolic"), num("diastolic")
        comps = [
            {"code": {"coding": [_coding(code)]}, "valueQuantity": _quantity(v, MMHG)}
            for code, v in ((SYSTOLIC, sys_), (DIASTOLIC, dia))
            if v is not None
        ]
        if comps:
            out.append(_observation(resident_id, [BP_PANEL], ts, source, components=comps))
        heart(num("pulse"))
    elif kind == "spo2":
        pct = num("percent")
        if pct is not None:
            out.append(
                _observation(resident_id, [SPO2, SAO2], ts, source, value=_quantity(pct, PERCENT))
            )
        heart(num("pulse"))
    elif kind == "temperature":
        c = num("celsius")
        if c is not None:
            out.append(
                _observation(
                    resident_id, [BODY_TEMPERATURE], ts, source, value=_quantity(c, CELSIUS)
                )
            )
    elif kind == "glucose":
        g = num("mmol_l")
        if g is not None:
            obs = _observation(
                resident_id,
                [GLUCOSE_CAPILLARY],
                ts,
                source,
                category="laboratory",
                value=_quantity(g, MMOL_L),
            )
            ctx = values.get("context") or _get(rec, "context")
            if ctx:
                obs["note"] = [{"text": f"context: {ctx}"}]
            out.append(obs)
    elif kind in ("pulse", "heart_rate"):
        heart(num("bpm") if "bpm" in values else num("heart_bpm"))
    elif kind in ("respiratory_rate", "breathing_rate"):
        breathing(num("bpm") if "bpm" in values else num("breathing_bpm"))
    elif kind == "radar_vitals":
        breathing(num("breathing_bpm"))
        heart(num("heart_bpm"))
    return out


def vitals_bundle(
    resident_id: str,
    records: Iterable[Any],
    *,
    timestamp_s: float | None = None,
    bundle_id: str | None = None,
    resident_name: str | None = None,
) -> dict[str, Any]:
    """A FHIR R4 ``Bundle`` (type ``collection``): the Patient, then the resident's vitals as
    Observations referencing it.

    Observations are ordered by time; each has a deterministic ``urn:uuid`` fullUrl derived from
    the resident, code and time, so re-exporting the same data gives the same bundle.
    """
    observations: list[dict[str, Any]] = []
    for rec in sorted(records, key=lambda r: float(_get(r, "ts"))):
        observations.extend(observations_for_record(resident_id, rec))
    entries = [
        {
            "fullUrl": patient_full_url(resident_id),
            "resource": patient_resource(resident_id, resident_name),
        }
    ]
    seen: dict[str, int] = {}
    for obs in observations:
        key = "|".join(
            [
                resident_id,
                obs["code"]["coding"][0]["code"],
                obs["effectiveDateTime"],
                str(obs.get("device", {}).get("display", "")),
            ]
        )
        n = seen.get(key, 0)
        seen[key] = n + 1
        full = uuid.uuid5(_NAMESPACE, f"{key}|{n}")
        entries.append({"fullUrl": f"urn:uuid:{full}", "resource": obs})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": entries,
    }
    if timestamp_s is not None:
        bundle["timestamp"] = _iso(timestamp_s)
    if bundle_id is not None:
        bundle["id"] = bundle_id
    return bundle
