"""Mosquitto security config for real deployments: per-device passwords, ACL, mosquitto.conf."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from care_hub.kernel.settings import Settings
from devices.broker import (
    AUTOSAVE_INTERVAL_S,
    MAX_INFLIGHT_MESSAGES,
    MAX_QUEUED_MESSAGES,
    BrokerSecurityError,
)

# PROTOCOL.md section 1: device ids are [A-Za-z0-9_-]{1,64}. They are also the MQTT usernames,
# which the ACL substitutes for %u, so they must never contain '/', '+' or '#'.
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The hub's username goes through the same %u patterns, so the same rule keeps it safe.
USERNAME_RE = DEVICE_ID_RE

# Mosquitto 2's `$7$` password hash: PBKDF2-HMAC-SHA512 with a 12-byte random salt and a 64-byte
# derived key, both standard base64, as written by mosquitto_passwd (see mosquitto-passwd(1);
# src/password_mosq.c: SALT_LEN 12, PW_DEFAULT_ITERATIONS 101).
PASSWORD_HASH_ID = 7
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64

# 32 random bytes, ~43 URL-safe characters: unguessable and typeable into a device's setup page.
DEVICE_PASSWORD_BYTES = 32
# bcrypt costs of the nats-server.conf users (write_nats_config says why they differ).
HUB_BCRYPT_COST = 12
DEVICE_BCRYPT_COST = 4

# Sessions of clients gone this long are dropped, so a decommissioned device's queue cannot grow
# forever; far longer than any hub outage we would want to replay.
PERSISTENT_CLIENT_EXPIRATION = "7d"

DEFAULT_PERSISTENCE_LOCATION = "/var/lib/mosquitto/"

PASSWORD_FILE_NAME = "passwd"
ACL_FILE_NAME = "acl"
CONF_FILE_NAME = "care-hub.conf"
CREDENTIALS_FILE_NAME = "device-credentials.json"
NATS_CONF_FILE_NAME = "nats-server.conf"


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    device_id: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BrokerConfigFiles:
    password_file: Path
    acl_file: Path
    mosquitto_conf: Path
    credentials_file: Path
    # Passwords stay out of repr: a printed or logged result must not show them.
    devices: tuple[DeviceCredential, ...] = field(repr=False)
    hub_username: str = ""
    hub_password: str = field(default="", repr=False)

    def password_for(self, device_id: str) -> str:
        for device in self.devices:
            if device.device_id == device_id:
                return device.password
        raise KeyError(device_id)


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """Mosquitto's `$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>` password hash."""
    if salt is None:
        salt = secrets.token_bytes(SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return (
        f"${PASSWORD_HASH_ID}${iterations}$"
        f"{base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"
    )


def verify_password(password: str, encoded: str) -> bool:
    """Check `password` against a `$7$` hash (ours or mosquitto_passwd's)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != str(PASSWORD_HASH_ID):
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(derived, expected)


def generate_device_password() -> str:
    return secrets.token_urlsafe(DEVICE_PASSWORD_BYTES)


def validate_accounts(device_ids: Iterable[str], hub_username: str) -> list[str]:
    """Device ids in order, checked: protocol syntax, no duplicates, none equal to the hub's."""
    ids = list(device_ids)
    for device_id in ids:
        if not DEVICE_ID_RE.fullmatch(device_id):
            raise ValueError(f"device id {device_id!r} does not match [A-Za-z0-9_-]{{1,64}}")
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate device ids")
    if not USERNAME_RE.fullmatch(hub_username):
        raise ValueError(f"hub username {hub_username!r} does not match [A-Za-z0-9_-]{{1,64}}")
    if hub_username in ids:
        # The hub's rights would then also be that device's, and vice versa.
        raise ValueError(f"hub username {hub_username!r} is also a device id")
    return ids


def render_password_file(hashed: Mapping[str, str]) -> str:
    """`username:hash` lines, one per account."""
    return "".join(f"{username}:{encoded}\n" for username, encoded in hashed.items())


def render_acl(hub_username: str) -> str:
    """Devices (username = device id) publish only under their own prefix and read only their cmd."""
    return (
        "# Generated by devices.broker_config. PROTOCOL.md: devices publish under\n"
        "# care/v1/{device_id}/..., the hub commands them on care/v1/{device_id}/cmd.\n"
        "\n"
        "# Every account, %u = its username = the device id.\n"
        "pattern write care/v1/%u/#\n"
        "pattern read care/v1/%u/cmd\n"
        "\n"
        "# The hub reads what every device publishes and commands any device.\n"
        f"user {hub_username}\n"
        "topic read care/v1/+/#\n"
        "topic write care/v1/+/cmd\n"
    )


def render_mosquitto_conf(
    *,
    password_file: str | os.PathLike[str],
    acl_file: str | os.PathLike[str],
    port: int = 1883,
    bind_address: str | None = None,
    persistence_location: str = DEFAULT_PERSISTENCE_LOCATION,
    certfile: str | None = None,
    keyfile: str | None = None,
    cafile: str | None = None,
) -> str:
    """A mosquitto.conf snippet (drop into /etc/mosquitto/conf.d/) for the care-hub listener."""
    if (certfile is None) != (keyfile is None):
        raise ValueError("certfile and keyfile go together")
    if not persistence_location.endswith("/"):
        persistence_location += "/"  # Mosquitto appends the file name to it verbatim
    listener = f"listener {port}" + (f" {bind_address}" if bind_address else "")
    lines = [
        "# Generated by devices.broker_config for care-hub.",
        "# The password and ACL files must be readable by the broker's user (chown mosquitto):",
        "# Mosquitto re-reads them on SIGHUP, after dropping root.",
        listener,
    ]
    if certfile is not None:
        lines += [f"certfile {certfile}", f"keyfile {keyfile}"]
        if cafile is not None:
            lines.append(f"cafile {cafile}")
    else:
        lines.append("# No TLS: passwords cross the network in clear. Use only on a trusted LAN.")
    lines += [
        "allow_anonymous false",
        f"password_file {Path(password_file)}",
        f"acl_file {Path(acl_file)}",
        "",
        "# Persistent sessions and retained status survive a broker restart.",
        "persistence true",
        f"persistence_location {persistence_location}",
        f"autosave_interval {AUTOSAVE_INTERVAL_S}",
        f"persistent_client_expiration {PERSISTENT_CLIENT_EXPIRATION}",
        "# The default 1,000 would drop QoS 1 messages (calls, falls) queued for the hub while it",
        "# restarts; see devices/broker.py MAX_QUEUED_MESSAGES.",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
    ]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write atomically, the file never readable beyond `mode` even for a moment."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by umask and ignored for existing files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fd = -1
            fh.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)


def _read_credentials(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def _read_existing_passwords(path: Path) -> dict[str, str]:
    return {d["device_id"]: d["password"] for d in _read_credentials(path).get("devices", [])}


def read_hub_account(out_dir: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(username, password) of the hub's broker account saved by `write_broker_config`."""
    hub = _read_credentials(Path(out_dir) / CREDENTIALS_FILE_NAME).get("hub")
    if not isinstance(hub, dict) or not hub.get("username") or not hub.get("password"):
        return None
    return str(hub["username"]), str(hub["password"])


def write_broker_config(
    out_dir: str | os.PathLike[str],
    device_ids: Sequence[str],
    hub_username: str,
    hub_password: str | None = None,
    *,
    port: int = 1883,
    bind_address: str | None = None,
    persistence_location: str = DEFAULT_PERSISTENCE_LOCATION,
    certfile: str | None = None,
    keyfile: str | None = None,
    cafile: str | None = None,
    keep_existing_passwords: bool = True,
) -> BrokerConfigFiles:
    """Write passwd, acl, care-hub.conf and device-credentials.json (0600) into `out_dir`.

    The credentials file holds every password: each device's and the hub's account (`hub`), so
    nothing needs printing. Devices already in an earlier device-credentials.json keep their
    password (re-running after adding a device must not lock out every provisioned one); new
    devices get a fresh one. Devices missing from `device_ids` lose their account. Without
    `hub_password` the hub keeps its saved one, or gets a generated one.
    """
    ids = validate_accounts(device_ids, hub_username)
    if hub_password == "":
        raise ValueError("hub password must not be empty")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    credentials_file = out / CREDENTIALS_FILE_NAME
    existing = _read_existing_passwords(credentials_file) if keep_existing_passwords else {}
    if hub_password is None:
        saved = read_hub_account(out) if keep_existing_passwords else None
        same_user = saved is not None and saved[0] == hub_username
        hub_password = saved[1] if saved is not None and same_user else generate_device_password()
    devices = tuple(
        DeviceCredential(d, d, existing.get(d) or generate_device_password()) for d in ids
    )

    hashed = {hub_username: hash_password(hub_password)}
    hashed |= {d.username: hash_password(d.password) for d in devices}
    password_file = out / PASSWORD_FILE_NAME
    acl_file = out / ACL_FILE_NAME
    conf_file = out / CONF_FILE_NAME
    credentials = {
        "broker": {"port": port, "tls": certfile is not None},
        "hub": {"username": hub_username, "password": hub_password},
        "devices": [
            {"device_id": d.device_id, "username": d.username, "password": d.password}
            for d in devices
        ],
    }
    _write_private(credentials_file, json.dumps(credentials, indent=2) + "\n", 0o600)
    _write_private(password_file, render_password_file(hashed), 0o600)
    _write_private(acl_file, render_acl(hub_username), 0o644)
    conf = render_mosquitto_conf(
        password_file=password_file,
        acl_file=acl_file,
        port=port,
        bind_address=bind_address,
        persistence_location=persistence_location,
        certfile=certfile,
        keyfile=keyfile,
        cafile=cafile,
    )
    _write_private(conf_file, conf, 0o644)
    return BrokerConfigFiles(
        password_file, acl_file, conf_file, credentials_file, devices, hub_username, hub_password
    )


def bcrypt_hash(password: str, cost: int) -> str:
    """A bcrypt hash as nats-server reads it in place of a password (``$2a$``)."""
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2a")).decode()


def write_nats_config(
    files: BrokerConfigFiles,
    *,
    partitions: int,
    store_dir: str | os.PathLike[str],
    port: int = 4222,
    mqtt_port: int = 1883,
    host: str = "0.0.0.0",
    server_name: str = "care-hub-nats",
) -> Path:
    """The nats-server configuration of the NATS ingest backend, next to the Mosquitto files:
    JetStream, the MQTT listener, the partition mapping and the users of
    `devices.nats_subjects.authorization()` (the hub; each device publishing only its own
    subjects) with the passwords of `files` (a device keeps one password on either broker), as
    bcrypt hashes: the file lets nobody in (it stays 0600 all the same)."""
    from devices.nats_subjects import server_config

    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    path = files.credentials_file.parent / NATS_CONF_FILE_NAME
    # the hub's password may be one a person chose: a slow hash; the devices' are
    # DEVICE_PASSWORD_BYTES random bytes each (out of reach of guessing at any cost), and
    # nats-server checks the hash at every connect: 10,000 devices reconnecting after a restart
    # at cost 10 would be ~10 CPU-minutes of the server's, at cost 4 ~10 s
    hub_hash = bcrypt_hash(files.hub_password, HUB_BCRYPT_COST)
    device_hashes = {d.username: bcrypt_hash(d.password, DEVICE_BCRYPT_COST) for d in files.devices}
    conf = server_config(
        partitions=partitions,
        port=port,
        mqtt_port=mqtt_port,
        store_dir=Path(store_dir),
        server_name=server_name,
        host=host,
        auth=((files.hub_username, hub_hash), device_hashes),
    )
    _write_private(path, conf, 0o600)
    return path


def embedded_security(
    config_dir: str | os.PathLike[str],
) -> tuple[Path, Path, str, str] | None:
    """(password file, ACL file, hub username, hub password) of a broker-config folder, for the
    embedded broker in production; None if `care-hub broker-config` has not written it."""
    out = Path(config_dir)
    account = read_hub_account(out)
    password_file, acl_file = out / PASSWORD_FILE_NAME, out / ACL_FILE_NAME
    if account is None or not password_file.is_file() or not acl_file.is_file():
        return None
    return password_file, acl_file, account[0], account[1]


def production_embedded_broker(settings: Settings) -> tuple[Path, Path] | None:
    """The embedded broker in production: (password file, ACL file) from the broker-config
    folder (`mqtt.broker_config_dir`, default data_dir/broker-config), with the hub's account
    from there set on `settings.mqtt` unless one is configured. None if anonymous devices are
    explicitly allowed and no folder exists; BrokerSecurityError if neither."""
    config_dir = settings.mqtt.broker_config_dir or settings.data_dir / "broker-config"
    found = embedded_security(config_dir)
    if found is None:
        if settings.mqtt.allow_anonymous_devices:
            return None
        raise BrokerSecurityError(
            f"production needs per-device broker accounts: run `care-hub broker-config --out "
            f"{config_dir} --devices-file ids.txt` (or set CARE_HUB_MQTT__BROKER_CONFIG_DIR), or "
            "accept anonymous devices with CARE_HUB_MQTT__ALLOW_ANONYMOUS_DEVICES=true"
        )
    password_file, acl_file, username, password = found
    if settings.mqtt.username is None:
        settings.mqtt.username = username
        settings.mqtt.password = SecretStr(password)
    return password_file, acl_file
