"""API shapes of care records: requests (ApiModel: no NUL, bounded text) and responses.

Family members get their own shapes (`FamilyCareSummary`): no staff notes, no staff names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from care_hub.kernel.fields import ApiModel, Seconds, Text

Scale = Literal["gbt42195", "barthel", "ad8", "mmse", "moca", "morse"]
Reason = Literal["admission", "routine", "after_fall", "after_hospital", "change", "other"]
Recurrence = Literal["every_hours", "daily", "per_shift"]
Note = Annotated[Text, Field(max_length=2000)]
ShortText = Annotated[Text, Field(max_length=200)]
Name = Annotated[Text, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]


# --- scales ---------------------------------------------------------------------------------


class ItemPublic(BaseModel):
    key: str
    domain: str
    allowed: list[int]


class ScalePublic(BaseModel):
    scale: str
    items: list[ItemPublic]
    needs_education: bool
    context_keys: list[str]


# --- assessments ----------------------------------------------------------------------------


class AssessmentCreate(ApiModel):
    scale: Scale
    items: dict[Annotated[str, Field(max_length=40)], int] = Field(max_length=40)
    # Scale context: education_years (MMSE, MoCA); coma, dementia, mental_disorder,
    # risk_events_30d (GB/T 42195). Checked by the scale.
    context: dict[Annotated[str, Field(max_length=40)], bool | int] = Field(
        default_factory=dict, max_length=10
    )
    assessed_at: Seconds | None = None
    reason: Reason = "routine"
    note: Note | None = None


class AssessmentPublic(BaseModel):
    id: int
    resident_id: str
    scale: str
    items: dict[str, Any]
    context: dict[str, Any]
    total: int
    max_total: int
    level: str
    positive: bool | None
    subscores: dict[str, int]
    result: dict[str, Any]
    reason: str
    assessed_at: float
    assessor: str
    note: str | None


# --- plans and tasks ------------------------------------------------------------------------


class PlanUpdate(ApiModel):
    summary: Annotated[Text, Field(max_length=4000)] | None = None
    goals: list[ShortText] | None = Field(default=None, max_length=20)
    staff_notes: Annotated[Text, Field(max_length=4000)] | None = None


class TaskCreate(ApiModel):
    kind: Name
    title: ShortText = ""
    recurrence: Recurrence
    interval_h: Annotated[float, Field(gt=0, le=24 * 7, allow_inf_nan=False)] | None = None
    time_of_day: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = None
    shift: Name | None = None
    shifts: list[Name] = Field(default_factory=list, max_length=10)
    area: dict[Literal["floors", "wings"], list[ShortText]] = Field(default_factory=dict)


class TaskPublic(BaseModel):
    id: int
    plan_id: int
    kind: str
    title: str
    recurrence: str
    interval_h: float | None
    time_of_day: str | None
    shift: str | None
    shifts: list[str]
    area: dict[str, Any]
    active: bool
    guidance_id: int | None
    last_done_at: float | None = None
    due_at: float | None = None
    overdue: bool = False


class PlanPublic(BaseModel):
    id: int | None
    resident_id: str
    summary: str
    goals: list[str]
    staff_notes: str | None
    created_by: str | None
    updated_at: float | None
    tasks: list[TaskPublic]


class CompletionCreate(ApiModel):
    outcome: Literal["done", "declined"] = "done"
    done_at: Seconds | None = None
    note: Note | None = None


class CompletionPublic(BaseModel):
    id: int
    task_id: int
    resident_id: str
    done_at: float
    outcome: str
    done_by: str
    note: str | None


# --- guidance -------------------------------------------------------------------------------


class GuidancePublic(BaseModel):
    id: int
    resident_id: str
    rule_id: str
    evidence: dict[str, Any]
    sources: list[str]
    state: str
    created_at: float
    decided_at: float | None
    decided_by: str | None
    note: str | None


class GuidanceDecision(ApiModel):
    accept: bool
    note: Note | None = None


class GuidanceDecided(BaseModel):
    guidance: GuidancePublic
    changes: dict[str, Any]


# --- observations ---------------------------------------------------------------------------


class ObservationCreate(ApiModel):
    consciousness: Literal["A", "C", "V", "P", "U"] | None = None
    supplemental_oxygen: bool | None = None
    respiration_rate: Annotated[int, Field(ge=2, le=80)] | None = None
    observed_at: Seconds | None = None
    note: Note | None = None


class ObservationPublic(BaseModel):
    id: int
    resident_id: str
    observed_at: float
    consciousness: str | None
    supplemental_oxygen: bool | None
    respiration_rate: int | None
    recorded_by: str
    note: str | None


# --- overviews, reminders, family -----------------------------------------------------------


class ReminderPublic(BaseModel):
    resident_id: str
    resident_name: str
    scale: str
    reason: str
    since: float | None


class ResidentCareOverview(BaseModel):
    resident_id: str
    name: str
    room: str | None
    latest: dict[str, AssessmentPublic]
    plan_summary: str | None
    open_guidance: int
    overdue_tasks: int
    reminders: list[ReminderPublic]


class FamilyTask(BaseModel):
    kind: str
    title: str
    recurrence: str
    interval_h: float | None
    time_of_day: str | None
    shift: str | None


class FamilyCareDone(BaseModel):
    kind: str
    title: str
    done_at: float
    outcome: str


class FamilyCareSummary(BaseModel):
    """What a relative may read: the plan's summary and goals, its tasks, and care delivered."""

    resident_id: str
    resident_name: str
    summary: str
    goals: list[str]
    tasks: list[FamilyTask]
    delivered: list[FamilyCareDone]


class AuditPublic(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    entity: str
    entity_id: int
    data: dict[str, Any]


# --- monthly report -------------------------------------------------------------------------


class VitalSummary(BaseModel):
    kind: str  # kit kind or radar_vitals
    name: str  # value name (systolic, bpm, breathing_bpm...)
    count: int
    minimum: float
    median: float
    maximum: float
    # Share of readings whose NEWS2 single-parameter score is 0 (the normal band) and >= 3.
    in_band: float | None
    score3: float | None


class ActivitySummary(BaseModel):
    days_covered: int
    out_of_bed_h_per_day: float | None
    in_bed_night_h: float | None  # hours in the bed zone during the night (22-07), a sleep proxy
    night_bed_exits_per_night: float | None
    night_bathroom_per_night: float | None


class AlertSummary(BaseModel):
    type: str
    count: int
    acknowledged: int
    median_ack_s: float | None
    false_alarms: int


class CareDelivered(BaseModel):
    kind: str
    done: int
    declined: int


class MonthlyReport(BaseModel):
    resident_id: str
    resident_name: str
    room: str | None
    facility: str | None
    month: str
    start: float
    end: float
    timezone: str
    activity: ActivitySummary
    vitals: list[VitalSummary]
    alerts: list[AlertSummary]
    assessments: list[AssessmentPublic]  # in the month, newest first
    latest: dict[str, AssessmentPublic]  # latest of each scale up to the month's end
    care: list[CareDelivered]
    observations: int
