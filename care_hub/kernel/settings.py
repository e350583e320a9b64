"""Settings from the environment and `.env` (prefix CARE_HUB_), injectable for tests."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class DatabaseSettings(BaseModel):
    # Empty means the embedded default: a SQLite file inside data_dir.
    url: str = ""
    echo: bool = False


class MqttSettings(BaseModel):
    # Empty means the embedded default: care-hub starts a broker on a free local port.
    url: str = ""
    username: str | None = None
    password: SecretStr | None = None
    # Stable id + persistent session: QoS 1 messages queued while the hub is away are kept.
    client_id: str = "care-hub-ingest"
    # Mosquitto queues QoS 1 messages per client; keeping many in flight lets the broker stream
    # instead of waiting for one ack per message (FIELD-NOTES: 200 in flight gave ~4.3k msg/s).
    max_inflight: int = 1000
    embedded_prefer: str = "auto"  # auto | mosquitto | amqtt
    embedded_port: int = 0  # 0: a free port
    # Production refuses a broker where a client without credentials can publish on a device
    # topic (anyone could cancel another's call or fake its Last Will) unless this says so.
    allow_anonymous_devices: bool = False
    # `care-hub broker-config --out DIR` output: the embedded broker in production runs with its
    # passwd/acl and the hub signs in with the hub account saved there.
    # Default: data_dir/broker-config.
    broker_config_dir: Path | None = None


class IngestSettings(BaseModel):
    """Where device messages come from (CARE_HUB_INGEST__*): the MQTT broker (default), or NATS
    JetStream shared by several hub nodes, each consuming its device partitions (docs/performance.md,
    "A city on NATS JetStream")."""

    backend: Literal["mqtt", "nats"] = "mqtt"
    nats_url: str = "nats://127.0.0.1:4222"
    # Must equal the n of the server's `{{partition(n,1)}}` mapping (devices.nats_subjects); a few
    # per node, so a node's partitions spread over the others when it dies.
    partitions: int = Field(default=8, ge=1, le=1024)
    # This node's name in the leases; empty: host name and process id.
    node_id: str = ""
    # A dead node's partitions move to the others after at most this long.
    lease_ttl_s: float = Field(default=6.0, ge=1.0, le=300.0)
    # A node taking a partition over replays this much of its radar frames from before the
    # previous owner's last acknowledgement through its detectors (state only), so a fall
    # pending there is still confirmed; 0 turns it off (devices.nats_source.WARMUP_S).
    warmup_s: float = Field(default=30.0, ge=0.0, le=600.0)


class AlertSettings(BaseModel):
    # Re-announce / escalate an unacknowledged alert after this many seconds, by severity.
    ack_timeout_critical_s: float = 60.0
    ack_timeout_high_s: float = 120.0
    ack_timeout_medium_s: float = 600.0
    reminder_interval_s: float = 30.0
    # How often the escalation engine checks deadlines (alerts.escalation).
    escalation_tick_s: float = 1.0


class VideoSettings(BaseModel):
    """Video calls (video/): STUN/TURN servers handed to browsers; no media passes the hub."""

    # Comma-separated, e.g. "stun:turn.example.org:3478" (CARE_HUB_VIDEO__STUN_URLS).
    stun_urls: str = ""
    # Comma-separated coturn URLs, e.g. "turn:turn.example.org:3478?transport=udp,
    # turns:turn.example.org:5349" (CARE_HUB_VIDEO__TURN_URLS). Empty: peer to peer on the LAN only.
    turn_urls: str = ""
    # coturn's `static-auth-secret` (CARE_HUB_VIDEO__TURN_SECRET): the hub derives short-lived
    # credentials from it (video/turn.py) and never sends it.
    turn_secret: SecretStr | None = None
    # An unanswered call stops ringing after this long (no_answer).
    ring_timeout_s: float = Field(default=45.0, gt=0.0, le=600.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARE_HUB_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: str = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    secret_key: SecretStr | None = None
    token_ttl_s: int = 12 * 3600
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Convenience flat aliases: CARE_HUB_DATABASE_URL and CARE_HUB_MQTT_URL.
    # Radar streams in worker processes of their own (the other core): None = automatic (one
    # worker from 300 radars); 0 = in the hub process; N = N workers, each owning the radars a
    # hash of their id gives it: the same CPU per message as one, more throughput where one worker's
    # core is the limit, up to 0.2 s more per extra worker before a fall alert (docs/performance.md).
    radar_workers: int | None = Field(default=None, ge=0, le=8)
    # A fall is raised once the person has stayed down this long (device time): the cancel window
    # (a radar reporting every frame is judged 1 s later, signal_core.falls.EVERY_FRAME_LOOK_S).
    # Commercial radars wait longer (Vayyar ~52 s, FIELD-NOTES); 5 s favours speed, because among
    # people over 90 who fell, 30% lay on the floor for an hour or more (Fleming & Brayne, BMJ 2008).
    fall_confirm_s: float = 5.0
    # Someone at floor level outside bed and chair zones this long without a recognised fall gets
    # a `fall` alert of kind floor_dwell (0 = off): on low-cost radars held frames can hide a
    # descent, and a person on the floor for a minute needs checking whatever brought them there.
    # 60 s (was 120 s): a slow slump the detector cannot tell from a deliberate sit is reported
    # within a minute, at a lower severity than a confirmed fall (issue 13).
    fall_floor_dwell_s: float = Field(default=60.0, ge=0.0)
    # Ingest that stores nothing for this long while messages wait is stalled: /api/health 503,
    # an ingest_stalled alert and a notice on every screen (care_hub/ingest/health.py).
    ingest_stall_s: float = Field(default=15.0, gt=0.0)
    # Dead letters older than this are deleted.
    dead_letter_retention_days: float = Field(default=30.0, gt=0.0)
    # Migrate the database to head on start (CARE_HUB_AUTO_MIGRATE). Production may turn it off
    # and run `care-hub migrate` itself: the hub then refuses to start on a database behind head.
    auto_migrate: bool = True
    # Bearer token a Prometheus scraper sends to /metrics (CARE_HUB_METRICS_TOKEN); staff and
    # admin sign-in tokens are accepted as well. Unset: only staff and admin tokens.
    metrics_token: SecretStr | None = None
    # /api/health answers 503 when the database does not answer `SELECT 1` within this long...
    health_db_timeout_s: float = Field(default=2.0, gt=0.0)
    # ...or the MQTT connection has been down longer than this (paho retries within 1-30 s, so a
    # broker restart passes without a page; a broker that stays away does not).
    health_broker_grace_s: float = Field(default=30.0, ge=0.0)
    database_url: str = ""
    mqtt_url: str = ""
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)

    @model_validator(mode="after")
    def _apply_flat_aliases(self) -> Settings:
        if self.database_url and not self.database.url:
            self.database.url = self.database_url
        if self.mqtt_url and not self.mqtt.url:
            self.mqtt.url = self.mqtt_url
        return self

    @property
    def db_url(self) -> str:
        if self.database.url:
            return normalise_db_url(self.database.url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'care-hub.db').resolve()}"

    def resolved_secret(self) -> str:
        """The signing key: configured, or generated once and persisted in data_dir.

        A hard-coded default would let anyone who read the source forge tokens.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.environment not in ("development", "test"):
            raise ValueError("CARE_HUB_SECRET_KEY must be set outside development")
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def normalise_db_url(url: str) -> str:
    """Accept the plain URLs people paste (postgresql://, sqlite://) and pick the async drivers."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url
