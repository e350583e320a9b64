"""The device contract on NATS: MQTT topics as subjects, device partitions, a server config.

NATS's MQTT listener turns `care/v1/<id>/button` into the subject `care.v1.<id>.button`. The
server's subject mapping (`mappings`, below) moves every device subject into its partition,
`care.p.<k>.v1.<id>.<kind>`, with `{{partition(n, 1)}}`: FNV-1a (32-bit) of the device id modulo
n, so one device always lands in the same partition, on every server of a cluster. Only the
device -> hub kinds are mapped: the hub's commands (`care.v1.<id>.cmd`) stay where the MQTT
listener delivers them to the device's `care/v1/<id>/cmd` subscription.

Control messages between hub nodes live in the same partitions, `care.p.<k>.ctl.<what>`: a
resident's cancel pressed on a button in one partition is forwarded into the partition of the
resident's radar (`control_subject`), so it reaches that radar's owner in stream order, after the
frames stored before it, and again on replay after a takeover. Devices must not be able to
publish control messages: `authorization()` gives each device a user whose publish permission
covers only its own mapped subjects (nats-server checks permissions on the subject after the
mapping: `care.p.*.v1.<id>.>`), so a device can neither write a control message nor write as
another device; hub nodes sign in as the hub user.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# Kinds a device publishes (PROTOCOL.md section 1), as subject tails after the device id.
DEVICE_KINDS = ("status", "button", "kit", "radar.frames", "radar.vitals")
STREAM = "CARE"
PARTITION_PREFIX = "care.p"
# JetStream keeps what it captured this long (replay window: a hub away for a day loses nothing).
STREAM_MAX_AGE_S = 24 * 3600.0

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def partition_of(device_id: str, partitions: int) -> int:
    """The partition nats-server's `{{partition(n, 1)}}` gives this device id (FNV-1a 32-bit)."""
    h = _FNV_OFFSET
    for byte in device_id.encode():
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h % partitions


def partition_filter(k: int) -> str:
    return f"{PARTITION_PREFIX}.{k}.>"


# The token after `care.p.<k>` that marks a hub-to-hub control message (device ones carry `v1`).
CONTROL_TOKEN = "ctl"


def control_subject(k: int, what: str) -> str:
    """`care.p.<k>.ctl.<what>`: a control message for the owner of partition k."""
    return f"{PARTITION_PREFIX}.{k}.{CONTROL_TOKEN}.{what}"


def topic_of(subject: str) -> str:
    """`care.p.<k>.v1.<id>.radar.frames` -> the MQTT topic `care/v1/<id>/radar/frames`."""
    return "care/" + subject.split(".", 3)[3].replace(".", "/")


def subject_of(topic: str) -> str:
    """An MQTT topic as the NATS subject the MQTT listener uses (`care/v1/x/cmd` -> `care.v1.x.cmd`)."""
    return topic.replace("/", ".")


def mappings(partitions: int) -> dict[str, str]:
    """Subject mappings putting each device subject into its partition."""
    return {
        f"care.v1.*.{kind}": (
            f"{PARTITION_PREFIX}.{{{{partition({partitions},1)}}}}.v1.{{{{wildcard(1)}}}}.{kind}"
        )
        for kind in DEVICE_KINDS
    }


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(hub: tuple[str, str], devices: Mapping[str, str]) -> list[str]:
    """An `authorization` block: the hub user (no limits) and one user per device (MQTT username
    = device id) that may publish only its own device subjects, as mapped into a partition, and
    subscribe only to its own command topic (`$MQTT.sub.>`: the listener's QoS 1 deliveries).
    Passwords may be bcrypt hashes (`nats server passwd`) instead of plain text."""
    user, password = hub
    lines = [
        "authorization {",
        "  users = [",
        f"    {{ user: {_quoted(user)}, password: {_quoted(password)} }}",
    ]
    for device_id, secret in devices.items():
        allow_pub = _quoted(f"{PARTITION_PREFIX}.*.v1.{device_id}.>")
        allow_sub = f"{_quoted(f'care.v1.{device_id}.cmd')}, {_quoted('$MQTT.sub.>')}"
        lines.append(
            f"    {{ user: {_quoted(device_id)}, password: {_quoted(secret)}, permissions: {{"
            f" publish: {{ allow: [{allow_pub}] }}, subscribe: {{ allow: [{allow_sub}] }} }} }}"
        )
    return [*lines, "  ]", "}"]


def server_config(
    *,
    partitions: int,
    port: int,
    mqtt_port: int,
    store_dir: Path,
    server_name: str = "care-hub-nats",
    host: str = "127.0.0.1",
    http_port: int | None = None,
    auth: tuple[tuple[str, str], Mapping[str, str]] | None = None,
) -> str:
    """A nats-server configuration: JetStream, the MQTT listener for devices, the partition
    mapping, and with `auth` (hub user, {device id: password}) the users of `authorization()`.
    A cluster adds a `cluster {}` block (routes) with the same `mappings` on every server;
    production adds TLS (and accounts per complex)."""
    lines = [
        f"server_name: {server_name}",
        f"listen: {host}:{port}",
        f'jetstream {{ store_dir: "{store_dir}" }}',
        f"mqtt {{ listen: {host}:{mqtt_port} }}",
        "mappings = {",
        *(f'  "{src}": "{dest}"' for src, dest in mappings(partitions).items()),
        "}",
    ]
    if auth is not None:
        lines += authorization(*auth)
    if http_port is not None:
        lines.insert(2, f"http: {host}:{http_port}")
    return "\n".join(lines) + "\n"
