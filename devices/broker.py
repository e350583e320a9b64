"""Local MQTT brokers: the embedded default broker and private Mosquitto processes for tests."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import ctypes.util
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

log = logging.getLogger(__name__)

BrokerKind = Literal["mosquitto", "amqtt"]
BrokerPreference = Literal["auto", "mosquitto", "amqtt"]

LOOPBACK = "127.0.0.1"

# Debian/Ubuntu install the broker in /usr/sbin, which is often not on a non-root PATH.
MOSQUITTO_FALLBACK_DIRS = ("/usr/sbin", "/usr/local/sbin")

# Mosquitto queues only 1,000 QoS 1/2 messages per offline persistent client by default and
# silently drops the rest. The hub's own subscription is such a client: while the hub restarts
# (deploy, migration, crash loop) every QoS 1 heartbeat, button press and kit reading queues for it.
# At the 10,000-resident mix in FIELD-NOTES (heartbeats every 60 s plus vitals windows every 5 s
# for half the residents if sent at QoS 1) that is about 1.2k msg/s, so 200k covers a ~2.5 minute
# outage. A call-button press must not be lost because the hub was restarting.
MAX_QUEUED_MESSAGES = 200_000

# Outgoing QoS 1 messages per client not yet acknowledged. Mosquitto's default of 20 throttles a
# backlog drain on loopback; FIELD-NOTES measured paho at ~4.3k msg/s QoS 1 with 200 in flight.
# More than that only adds redeliveries after a consumer crash (which the hub dedupes by seq).
MAX_INFLIGHT_MESSAGES = 200

# Retained messages and persistent sessions are saved on SIGTERM; autosaving as well bounds what
# a SIGKILL or power cut loses to this many seconds.
AUTOSAVE_INTERVAL_S = 60

# Mosquitto starts in well under 100 ms; this only guards against a wedged or misconfigured child.
STARTUP_TIMEOUT_S = 10.0
# SIGTERM makes Mosquitto write its persistence file, which for a big queue takes a moment.
STOP_TIMEOUT_S = 5.0
# See MosquittoProcess._start_once: how long an open port without a "running" log line must last.
RUNNING_LINE_GRACE_S = 1.0
# Lines of broker log quoted in start-up errors.
LOG_TAIL_LINES = 30
# A port picked by find_free_port can be taken by someone else before the broker binds it.
PORT_RACE_RETRIES = 3

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class BrokerStartError(RuntimeError):
    """A broker did not come up (bad config, port taken, binary missing, timeout)."""


def find_free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on `host` that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_mosquitto() -> str | None:
    """Path of the `mosquitto` binary: PATH first, then the sbin directories."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in MOSQUITTO_FALLBACK_DIRS:
        candidate = Path(directory) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when its parent dies.

    PDEATHSIG fires when the *thread* that forked the child exits, not the process, so it is only
    armed from the main thread; other callers rely on the atexit hook alone.
    """
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    # Resolved before fork: loading libraries in the forked child is not safe.
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    parent_pid = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # parent already died between fork and prctl
            os._exit(1)

    return preexec


# Children still running at interpreter exit are stopped; a weak set so stopped ones can go.
_live_processes: weakref.WeakSet[MosquittoProcess] = weakref.WeakSet()


@atexit.register
def _stop_live_processes() -> None:
    for process in list(_live_processes):
        with contextlib.suppress(Exception):
            process.stop()


class MosquittoProcess:
    """A private Mosquitto child process on its own port, with its own config and data dir.

    With `base_config=True` (the default) the generated config has a listener on
    `host:port` only, persistence in `data_dir` and `allow_anonymous`; `extra_config` is appended
    (password_file, acl_file, ...). With `base_config=False`, `extra_config` must supply the
    listener itself (on `port`); only process-level lines (user, logging) are added.
    `stop()` then `start()` reuses the same port and data dir, so persistent sessions survive.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        extra_config: str = "",
        allow_anonymous: bool = True,
        persistence: bool = True,
        base_config: bool = True,
        binary: str | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self._port_given = port is not None
        self.port = port if port is not None else find_free_port(host)
        self.extra_config = extra_config
        self.allow_anonymous = allow_anonymous
        self.persistence = persistence
        self.base_config = base_config
        self.binary = binary or find_mosquitto()
        self.startup_timeout_s = startup_timeout_s
        self.config_path = self.data_dir / "mosquitto.conf"
        self.log_path = self.data_dir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def render_config(self) -> str:
        """The full config file text this process runs with."""
        lines = [
            "# Generated by devices.broker.MosquittoProcess; rewritten on every start.",
            # Mosquitto started as root drops to user `mosquitto`, which could not write our
            # data dir; naming the current user keeps it as is (no effect when not root).
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp true",
        ]
        if self.base_config:
            lines += [
                f"listener {self.port} {self.host}",
                f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
                f"max_queued_messages {MAX_QUEUED_MESSAGES}",
                f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
            ]
            if self.persistence:
                lines += [
                    "persistence true",
                    # The trailing slash matters: Mosquitto concatenates it with the file name.
                    f"persistence_location {self.data_dir}/",
                    f"autosave_interval {AUTOSAVE_INTERVAL_S}",
                ]
        if self.extra_config:
            lines += ["", "# Extra config", self.extra_config.rstrip()]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self.is_running:
            return
        if self.binary is None:
            raise BrokerStartError("mosquitto binary not found on PATH or in /usr/sbin")
        attempts = 1 if self._port_given else PORT_RACE_RETRIES
        for attempt in range(attempts):
            log_offset = len(self.log_text())
            try:
                self._start_once()
                # Later restarts must keep this port: clients reconnect to it.
                self._port_given = True
                return
            except BrokerStartError:
                port_taken = "Address already in use" in self.log_text()[log_offset:]
                if attempt + 1 == attempts or not port_taken:
                    raise
                self.port = find_free_port(self.host)

    def _logged_running(self, log_offset: int) -> bool:
        return re.search(r"mosquitto version \S+ running", self.log_text()[log_offset:]) is not None

    def _start_once(self) -> None:
        assert self.binary is not None
        log_offset = len(self.log_text())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config())
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the child
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_pdeathsig_preexec(),  # noqa: PLW1509 - armed only from the main thread
            close_fds=True,
        )
        _live_processes.add(self)
        start = time.monotonic()
        while time.monotonic() - start < self.startup_timeout_s:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._cleanup()
                raise BrokerStartError(
                    f"mosquitto exited with code {code} on start (port {self.port}); "
                    f"log tail:\n{self.log_tail()}"
                )
            # The port alone could be answered by whoever else holds it, so also wait for
            # Mosquitto 2's "running" line (logged once every listener is open); versions that
            # never log it are trusted after a grace period in which a failed bind would exit.
            if _port_accepts(self.host, self.port) and (
                self._logged_running(log_offset) or time.monotonic() - start > RUNNING_LINE_GRACE_S
            ):
                log.info("mosquitto pid %s listening on %s", self._proc.pid, self.url)
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerStartError(
            f"mosquitto did not accept connections on {self.host}:{self.port} within "
            f"{self.startup_timeout_s} s; log tail:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (Mosquitto saves its persistence file), then SIGKILL after `timeout_s`."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("mosquitto pid %s ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        self._proc = None
        _live_processes.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> None:
        """Stop and start again on the same port and data dir."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        """Everything the broker logged across all starts."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _AmqttThread:
    """An amqtt broker on its own asyncio event loop in a daemon thread."""

    def __init__(self, host: str, port: int, startup_timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, name=f"amqtt-broker-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self.startup_timeout_s):
            raise BrokerStartError(
                f"amqtt broker did not start on {self.host}:{self.port} "
                f"within {self.startup_timeout_s} s"
            )
        if self._error is not None:
            self._thread.join(self.startup_timeout_s)
            raise BrokerStartError(
                f"amqtt broker failed to start on {self.host}:{self.port}: {self._error!r}"
            ) from self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() or logged; never kill silently
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("amqtt broker thread crashed")

    async def _serve(self) -> None:
        from amqtt.broker import Broker  # imported lazily: only this mode needs it

        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Only anonymous auth: no $SYS plugin (deprecation warning, periodic noise), no
            # packet logging (a log line per packet).
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        broker = Broker(config)
        await broker.start()
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await broker.shutdown()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("amqtt broker thread did not stop within %s s", timeout_s)
        self._thread = None
        self._loop = None
        self._stop_event = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class EmbeddedBroker:
    """The broker the hub starts itself when no MQTT URL is configured.

    Mosquitto as a child process when the binary exists (fast, persistent sessions that survive
    a restart), otherwise an in-process amqtt broker (no persistence, ~1.8k msg/s QoS 1).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        prefer: BrokerPreference = "auto",
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        password_file: str | os.PathLike[str] | None = None,
        acl_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """With `password_file` and `acl_file` (from `care-hub broker-config`) Mosquitto refuses
        anonymous clients and holds each device to its own topics; amqtt cannot, so it refuses."""
        if prefer not in ("auto", "mosquitto", "amqtt"):
            raise ValueError(f"prefer must be 'auto', 'mosquitto' or 'amqtt', not {prefer!r}")
        self.data_dir = Path(data_dir)
        self.host = host
        self.prefer = prefer
        self.startup_timeout_s = startup_timeout_s
        mosquitto = find_mosquitto() if prefer != "amqtt" else None
        if prefer == "mosquitto" and mosquitto is None:
            raise BrokerStartError("prefer='mosquitto' but no mosquitto binary was found")
        self.kind: BrokerKind = "mosquitto" if mosquitto is not None else "amqtt"
        self._mosquitto: MosquittoProcess | None = None
        self._amqtt: _AmqttThread | None = None
        secured = password_file is not None and acl_file is not None
        if secured and self.kind != "mosquitto":
            raise BrokerStartError("per-device credentials need Mosquitto; amqtt has no ACL")
        if self.kind == "mosquitto":
            self._mosquitto = MosquittoProcess(
                self.data_dir,
                port=port,
                host=host,
                # Development: loopback only, local processes are trusted. Production: the
                # broker-config accounts and ACL.
                allow_anonymous=not secured,
                extra_config=(
                    f"password_file {Path(password_file).resolve()}\n"
                    f"acl_file {Path(acl_file).resolve()}\n"
                    if password_file is not None and acl_file is not None
                    else ""
                ),
                binary=mosquitto,
                startup_timeout_s=startup_timeout_s,
            )
            self.port = self._mosquitto.port
        else:
            self.port = port if port is not None else find_free_port(host)
            self._amqtt = _AmqttThread(host, self.port, startup_timeout_s)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def mosquitto(self) -> MosquittoProcess | None:
        """The child process in mosquitto mode (for logs and restart tests)."""
        return self._mosquitto

    @property
    def is_running(self) -> bool:
        if self._mosquitto is not None:
            return self._mosquitto.is_running
        return self._amqtt is not None and self._amqtt.is_running

    def start(self) -> None:
        if self._mosquitto is not None:
            self._mosquitto.start()
            self.port = self._mosquitto.port  # may move if the picked port was taken meanwhile
        elif self._amqtt is not None:
            self._amqtt.start()
        log.info("embedded %s broker at %s", self.kind, self.url)

    def stop(self) -> None:
        if self._mosquitto is not None:
            self._mosquitto.stop()
        elif self._amqtt is not None:
            self._amqtt.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# How long the anonymity probe waits for a CONNACK and for its publish to come round.
PROBE_TIMEOUT_S = 3.0


class BrokerSecurityError(RuntimeError):
    """Production against a broker where anyone may publish as a device: refused at start."""


def probe_anonymous_publish(
    url: str,
    *,
    username: str | None,
    password: str | None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> bool:
    """True if a client without credentials can publish on a device topic that the hub's own
    account then receives: anyone on the network could send a `cancel` or a Last Will for any
    device. False if the anonymous connect is refused or its publish never arrives (the ACL).

    The probe publishes at QoS 0 under a random device id no one has, so no persistent session
    queues it and the hub's ingest dead-letters it at most as an unknown device.
    """
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from devices.mqtt_client import parse_mqtt_url

    host, port, url_user, url_password = parse_mqtt_url(url)
    topic = f"care/v1/care-hub-probe-{uuid.uuid4().hex[:12]}/status"
    received = threading.Event()
    subscribed = threading.Event()

    def client(name: str) -> mqtt.Client:
        return mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"care-hub-probe-{name}-{uuid.uuid4().hex[:8]}",
            clean_session=True,
        )

    observer = client("observer")
    if username or url_user:
        observer.username_pw_set(username or url_user, password or url_password)
    observer.on_message = lambda *_: received.set()
    observer.on_subscribe = lambda *_: subscribed.set()
    observer.on_connect = lambda c, *_: c.subscribe(topic, qos=0)
    anonymous = client("anonymous")
    accepted = threading.Event()

    def on_anonymous_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if not getattr(reason, "is_failure", False):
            accepted.set()

    anonymous.on_connect = on_anonymous_connect
    try:
        observer.connect(host, port)
        observer.loop_start()
        if not subscribed.wait(timeout_s):
            raise BrokerSecurityError(
                f"could not check the broker at {host}:{port}: the hub's own account did not "
                "connect and subscribe (wrong CARE_HUB_MQTT__USERNAME/PASSWORD?)"
            )
        anonymous.connect(host, port)
        anonymous.loop_start()
        if not accepted.wait(timeout_s):
            return False  # refused without credentials
        anonymous.publish(topic, b'{"ts": 0, "seq": 0, "state": "online"}', qos=0)
        return received.wait(timeout_s)
    except OSError as exc:
        raise BrokerSecurityError(f"could not check the broker at {host}:{port}: {exc}") from exc
    finally:
        for c in (anonymous, observer):
            with contextlib.suppress(Exception):
                c.disconnect()
                c.loop_stop()


def require_device_acl(
    url: str, *, username: str | None, password: str | None, allow_anonymous: bool
) -> None:
    """Production start-up check: refuse a broker where anonymous clients publish as devices."""
    if allow_anonymous:
        log.warning("the broker's device topics are not checked: anonymous devices allowed")
        return
    if probe_anonymous_publish(url, username=username, password=password):
        raise BrokerSecurityError(
            f"the MQTT broker at {url} lets clients without credentials publish on device topics "
            "(anyone on the network could cancel a call or fake a device going offline). Give it "
            "per-device accounts and an ACL (`care-hub broker-config --out DIR`, then include "
            "DIR/care-hub.conf in mosquitto.conf), or accept the risk with "
            "CARE_HUB_MQTT__ALLOW_ANONYMOUS_DEVICES=true"
        )
    log.info("broker check: clients without credentials cannot publish on device topics")
