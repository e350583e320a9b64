"""Every limit of the device contract (PROTOCOL.md v1), the one source for the decoder and the schema.

`devices/contract.py` enforces these on every message; the ORM columns that store contract fields
take their lengths from here, and `tests/devices/test_limits.py` walks both, so a value the contract
accepts can never be one the database refuses (issue 11: a 41-64 character `fw` passed the contract
and failed a 40-character column, and every batch holding one was lost).

It lives in the kernel, not in `devices/`, because kernel models (measurements, residents) store
device ids and resident ids too, and the kernel may not import a higher layer.
"""

from __future__ import annotations

from typing import Final

# --- Identifiers and topics ------------------------------------------------------------------------

# PROTOCOL.md: device ids are `[A-Za-z0-9_-]{1,64}`.
MAX_DEVICE_ID_CHARS: Final = 64
# The longest topic kind ("radar/frames", "radar/vitals"); DeviceSeq.kind stores it.
MAX_TOPIC_KIND_CHARS: Final = len("radar/frames")
# care/v1/{device_id}/{kind}: the longest valid device topic.
MAX_DEVICE_TOPIC_CHARS: Final = len("care/v1/") + MAX_DEVICE_ID_CHARS + 1 + MAX_TOPIC_KIND_CHARS
# Reason codes (contract and ingest) are short identifiers; DeadLetter.reason stores them.
MAX_REASON_CHARS: Final = 40

# --- Every payload ---------------------------------------------------------------------------------

# PROTOCOL.md: every payload is at most 64 KiB. Checked before parsing so a huge message costs nothing.
MAX_PAYLOAD_BYTES: Final = 64 * 1024
# seq is stored as a PostgreSQL BIGINT; anything above cannot be a per-topic counter anyway.
MAX_SEQ: Final = 2**63 - 1
# `boot` (optional v1 extension: the device's boot counter) is stored as a BIGINT like seq.
MAX_BOOT: Final = 2**63 - 1
# Device clocks are trusted for ordering, but a ts past 2100-01-01 is a broken clock, and values near
# 1e11+ overflow datetime conversions downstream. ts must also be > 0 (PROTOCOL: epoch seconds).
MAX_TS_S: Final = 4_102_444_800.0

# --- radar/frames ----------------------------------------------------------------------------------

# TI's people tracker runs at ~18-20 fps and the LD6002B module at 20 Hz (FIELD-NOTES); 100 fps is 5x
# headroom, and a higher rate is a unit mistake (ms for Hz) that would wreck frame timing.
MAX_FPS: Final = 100.0
# 10 s at the 100 fps ceiling, 50 s at 20 fps; windows are "typically 1 s". Bounds per-message work.
MAX_FRAMES_PER_WINDOW: Final = 1000
# A care room holding more than 50 tracked people is a tracker fault, not a room.
MAX_TARGETS_PER_FRAME: Final = 50
# tid is an identifier; int32 is plenty and keeps it exact through float64 on the fast path.
MAX_TID: Final = 2**31 - 1
# Room coordinates, metres, set at installation. Radars see ~10-20 m; 50 m covers the largest day room
# with an origin placed off-corner. z is the centroid height: -1 m allows an installation offset below
# the floor plane; 5 m is above any care-room ceiling. Outside: impossible, the target is dropped
# (a phantom, FIELD-NOTES), the rest of the window is kept.
MAX_ABS_XY_M: Final = 50.0
MIN_Z_M: Final = -1.0
MAX_Z_M: Final = 5.0
# Per velocity component. A sprinter peaks at ~12 m/s; the 5-8 m/s spikes adapters make by differencing
# held positions (FIELD-NOTES) are device reality and stay. Beyond 20 m/s the target is dropped.
MAX_ABS_SPEED_MPS: Final = 20.0

# --- radar/vitals ----------------------------------------------------------------------------------

# Breathing (0.1-0.6 Hz) and heart (0.8-3 Hz) need >= ~6 Hz; radars send ~20 Hz. Below 1 Hz
# nothing useful survives; above 1000 Hz is a unit mistake.
MIN_VITALS_FS_HZ: Final = 1.0
MAX_VITALS_FS_HZ: Final = 1000.0
# A typical window is 100 samples (5 s at 20 Hz); 4096 is 40x that (~200 s at 20 Hz) and bounds work.
MAX_VITALS_SAMPLES: Final = 4096
# Chest displacement is a few mm; 10 m is beyond the radar's range, so not a displacement of anything.
MAX_ABS_DISPLACEMENT_MM: Final = 10_000.0

# --- status ----------------------------------------------------------------------------------------

MIN_RSSI_DBM: Final = -150.0  # below any receiver's sensitivity (LoRa reaches ~-148 dBm)
MAX_RSSI_DBM: Final = 30.0  # received power cannot exceed a 1 W licence-free transmitter
MAX_FW_CHARS: Final = 64  # firmware version strings ("1.4.2", "v2.0.1-rc3+g1a2b3c4-dirty")
# `state` is online | offline; Device.state also holds "unknown".
MAX_STATE_CHARS: Final = len("offline")

# --- kit -------------------------------------------------------------------------------------------

# Ranges are "physically possible for a living person measured by a home device", not "normal":
# judging values is the alert engine's job; the decoder only rejects readings that cannot be true.
MAX_RESIDENT_CHARS: Final = 64  # resident ids, as kits and the registry know them ("R-0042")
MAX_KIT_KIND_CHARS: Final = len("blood_pressure")  # the longest kit kind
# SpO2 above 100% is impossible. Oximeters are calibrated only down to ~70% (ISO 80601-2-61 accuracy
# claims); below 50% a reading is nearly always a probe artefact (off finger, motion, no perfusion),
# not a person measuring themselves at home. 50-70% is kept: it still demands an alert.
SPO2_MIN_PERCENT: Final = 50.0
SPO2_MAX_PERCENT: Final = 100.0
SYSTOLIC_MIN_MMHG: Final = 40.0  # below this an oscillometric cuff finds no pulse
SYSTOLIC_MAX_MMHG: Final = 300.0  # home cuffs inflate to ~300 mmHg; they cannot read above it
DIASTOLIC_MIN_MMHG: Final = 20.0
# Wider than home cuffs' ~40-215 mmHg range, so any real reading passes.
DIASTOLIC_MAX_MMHG: Final = 250.0
PULSE_MIN_BPM: Final = 20.0  # below: asystole-level, not a measured pulse
PULSE_MAX_BPM: Final = 300.0  # above the fastest conducted tachycardias
TEMP_MIN_C: Final = 25.0  # severe hypothermia still measurable; below: thermometer not on a person
TEMP_MAX_C: Final = 45.0  # above: not survivable, thermometer reading something else
GLUCOSE_MIN_MMOL_L: Final = 0.5  # meters read from ~0.6 mmol/L ("LO" below)
# Above meters' ~33 mmol/L "HI" ceiling; extreme HHS cases reach ~50.
GLUCOSE_MAX_MMOL_L: Final = 60.0
