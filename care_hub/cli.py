"""`care-hub` command line: serve, demo, migrate, seed, simulate, record, broker-config, create-user."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from care_hub.kernel.settings import Settings

log = logging.getLogger("care_hub")

# Long work (seed, simulate, record) says how it is going this often on stderr, unless --quiet.
PROGRESS_INTERVAL_S = 5.0


class CliError(Exception):
    """A problem the operator can fix, said in one line (no traceback)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("care-hub")
    except PackageNotFoundError:
        return "unknown"


def _number(kind: type[int] | type[float], *, minimum: float, inclusive: bool = True) -> Any:
    """An argparse type: a number at least (or above) `minimum`, refused by argparse if not."""
    word = "at least" if inclusive else "more than"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN, inf
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < minimum or (not inclusive and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {word} {minimum:g} (got {text})")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


POSITIVE_INT = _number(int, minimum=1)
NON_NEGATIVE_INT = _number(int, minimum=0)
POSITIVE_FLOAT = _number(float, minimum=0, inclusive=False)
NON_NEGATIVE_FLOAT = _number(float, minimum=0)


def _port(text: str) -> int:
    value = int(POSITIVE_INT(text))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535 (got {text})")
    return value


@contextlib.contextmanager
def progress(
    describe: Callable[[float], str],
    *,
    quiet: bool,
    interval_s: float = PROGRESS_INTERVAL_S,
    out: TextIO | None = None,
) -> Iterator[None]:
    """Print `describe(elapsed_s)` to stderr every `interval_s` while the block runs."""
    if quiet:
        yield
        return
    stream = out if out is not None else sys.stderr
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(interval_s):
            print(describe(time.monotonic() - started), file=stream, flush=True)

    ticker = threading.Thread(target=tick, name="cli-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join(timeout=1)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["http_host"] = args.host
    if getattr(args, "port", None):
        overrides["http_port"] = args.port
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    settings = Settings(**overrides)
    if getattr(args, "database_url", None):
        settings.database.url = args.database_url
    if getattr(args, "mqtt_url", None):
        settings.mqtt.url = args.mqtt_url
    return settings


def _add_common(p: argparse.ArgumentParser, *, hub: bool = False) -> None:
    """The database options every database command takes; `hub` adds the broker and HTTP ones
    (serve and demo only: no other command talks to a broker or listens)."""
    p.add_argument(
        "--data-dir", help="where the embedded database, broker and secret live (default ./var)"
    )
    p.add_argument(
        "--database-url", help="e.g. postgresql://user@host/db (default: SQLite in data dir)"
    )
    if hub:
        p.add_argument("--mqtt-url", help="e.g. mqtt://host:1883 (default: an embedded broker)")
        p.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
        p.add_argument("--port", type=_port, help="HTTP port (default 8000)")


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=f"no progress lines on stderr (every {PROGRESS_INTERVAL_S:g} s)",
    )


async def _database_ready(settings: Settings) -> None:
    """Refuse a database that is not there (a SQLite file not yet created) or has no schema,
    before a read-only command trips over it."""
    from care_hub import migrate

    url = settings.db_url
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1]) if ":///" in url else None
        if path is not None and not path.exists():
            raise CliError(
                f"no database at {path}: run `care-hub migrate` (or seed) first, "
                "or pass --database-url"
            )
    if not await asyncio.to_thread(migrate.current_revisions, url):
        raise CliError("the database has no care-hub schema: run `care-hub migrate` first")


def _one_line(exc: BaseException) -> str:
    """An exception as one line an operator can act on."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return f"bad database URL ({exc})"
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig).strip() or type(exc.orig).__name__
    else:
        text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from care_hub.main import create_app

    settings = _settings(args)
    if not settings.auto_migrate:
        # Said here in one line rather than as a traceback from the app's start-up.
        from care_hub import migrate

        try:
            migrate.ensure_at_head(settings.db_url)
        except migrate.SchemaBehind as exc:
            raise CliError(str(exc)) from None
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_level="info"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`care-hub report`: response times (median, p90) per facility, shift and type; false alarms."""
    from alerts.report import render_table, report_for

    settings = _settings(args)
    asyncio.run(_database_ready(settings))
    report = asyncio.run(report_for(settings.db_url, days=args.days, facility_id=args.facility_id))
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "definitions"}, indent=2))
    else:
        print(render_table(report))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from care_hub import migrate

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.downgrade:
        migrate.downgrade(settings.db_url, args.downgrade)
        print(f"downgraded to {args.downgrade}")
    else:
        migrate.upgrade(settings.db_url, args.revision)
        print(f"database at {args.revision}: {settings.db_url.split('@')[-1]}")
    return 0


async def _seed(settings: Settings, seed: dict[str, Any]) -> dict[str, int]:
    from care_hub import migrate
    from care_hub.kernel.db import make_engine, make_session_factory
    from care_hub.seed import load_seed

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate.upgrade, settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        async with make_session_factory(engine)() as session:
            created = await load_seed(session=session, seed=seed)
            await session.commit()
    finally:
        await engine.dispose()
    return created


def demo_credentials(data_dir: Path) -> dict[str, str]:
    """Demo passwords: generated on first use and kept in the data dir (never hard-coded)."""
    path = data_dir / "demo-credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = {role: secrets.token_urlsafe(9) for role in ("admin", "nurse", "family")}
    path.write_text(json.dumps(creds, indent=2))
    path.chmod(0o600)
    return creds


def _demo_seed(data_dir: Path, residents: int) -> dict[str, Any]:
    from simulators.residents import build_seed

    creds = demo_credentials(data_dir)
    return build_seed(
        residents,
        admin_password=creds["admin"],
        caregiver_password=creds["nurse"],
        family_password=creds["family"],
    )


def cmd_seed(args: argparse.Namespace) -> int:
    from care_hub.seed import read_seed_file

    settings = _settings(args)
    seed = (
        read_seed_file(Path(args.file))
        if args.file
        else _demo_seed(settings.data_dir, args.residents)
    )
    what = f"{len(seed.get('residents', []))} residents, {len(seed.get('devices', []))} devices"
    with progress(lambda s: f"  seeding {what}: {s:.0f} s", quiet=args.quiet):
        created = asyncio.run(_seed(settings, seed))
    print("created: " + ", ".join(f"{n} {k}" for k, n in created.items()))
    if not args.file:
        print(f"demo credentials: {settings.data_dir / 'demo-credentials.json'}")
    return 0


async def _facility_exists(settings: Settings, facility_id: int) -> None:
    from sqlalchemy import select

    from care_hub.kernel.db import make_engine, make_session_factory
    from care_hub.kernel.models import Facility

    await _database_ready(settings)
    engine = make_engine(settings.db_url)
    try:
        async with make_session_factory(engine)() as session:
            found = await session.scalar(select(Facility.id).where(Facility.id == facility_id))
    finally:
        await engine.dispose()
    if found is None:
        raise CliError(f"facility {facility_id} does not exist (create it with a seed file first)")


def cmd_create_user(args: argparse.Namespace) -> int:
    import getpass

    password = args.password or getpass.getpass(f"password for {args.username}: ")
    seed = {
        "version": 1,
        "users": [
            {
                "username": args.username,
                "password": password,
                "role": args.role,
                "name": args.name or args.username,
                "facility_id": args.facility_id,
                "resident_ids": args.resident or [],
            }
        ],
    }
    settings = _settings(args)
    if args.facility_id is not None:
        asyncio.run(_facility_exists(settings, args.facility_id))
    created = asyncio.run(_seed(settings, seed))
    print("created" if created["users"] else f"user {args.username} already exists")
    return 0


def cmd_add_device(args: argparse.Namespace) -> int:
    """Provision one device (the seed loader does the checks: facility, room and resident must exist)."""
    zones = json.loads(Path(args.zones).read_text()) if args.zones else []
    device = {
        "id": args.device_id,
        "type": args.type,
        "facility_id": args.facility_id,
        "room": args.room,
        "resident_id": args.resident,
        "zones": zones,
    }
    created = asyncio.run(_seed(_settings(args), {"version": 1, "devices": [device]}))
    print(
        f"device {args.device_id} "
        + ("created" if created["devices"] else "already exists (unchanged)")
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from devices.mqtt_client import parse_mqtt_url
    from simulators.fleet import Fleet, MqttPublisher

    if not args.mqtt_url:
        print("simulate needs --mqtt-url (the hub prints its broker URL on start)", file=sys.stderr)
        return 2
    host, port, user, password = parse_mqtt_url(args.mqtt_url)
    fleet = Fleet(args.residents, kits=args.kits, speed=args.speed, seed=args.seed)
    pub = MqttPublisher(
        host, port, connections=args.connections, username=user, password=password, fleet=fleet
    ).connect()
    print(f"simulating {args.residents} residents on {args.mqtt_url} (Ctrl-C stops)")
    sent = [0]

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        pub.publish(topic, payload, qos, retain)
        sent[0] += 1

    def describe(elapsed_s: float) -> str:
        left = max(0.0, args.duration - elapsed_s)
        return (
            f"  {sent[0]:,} messages ({sent[0] / max(elapsed_s, 1e-9):,.0f}/s), {left:.0f} s left"
        )

    try:
        with progress(describe, quiet=args.quiet):
            stats = fleet.run(args.duration, publish=publish)
    except KeyboardInterrupt:
        stats = {}
    finally:
        pub.close()
    print(json.dumps(stats))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from devices.recording import record

    if not args.mqtt_url:
        print("record needs --mqtt-url (the broker the radars publish to)", file=sys.stderr)
        return 2
    out = Path(args.out)
    which = ", ".join(args.device) if args.device else "every radar"
    until = f"for {args.duration:.0f} s" if args.duration else "until Ctrl-C"
    print(f"recording radar/frames of {which} from {args.mqtt_url} to {out} {until}")
    try:
        n = record(
            args.mqtt_url,
            out,
            device_ids=args.device,
            duration_s=args.duration,
            max_messages=args.max_messages,
            progress=None
            if args.quiet
            else lambda c: print(f"  {c} messages", file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        print("stopped")
        return 0
    print(f"wrote {n} messages to {out}; label it in labels.csv (see devices/recording.py)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from care_hub.main import create_app
    from devices.mqtt_client import parse_mqtt_url
    from simulators.fleet import Behaviour, Fleet, MqttPublisher

    settings = _settings(args)
    seed = _demo_seed(settings.data_dir, args.residents)
    creds = demo_credentials(settings.data_dir)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_level="warning")
    )
    stop = threading.Event()

    async def main() -> None:
        serve = asyncio.create_task(server.serve())
        while not server.started:
            if serve.done():
                await serve
                return
            await asyncio.sleep(0.05)
        hub = app.state.hub
        from care_hub.seed import load_seed
        from simulators.care_records_demo import seed_care_records

        async with hub.session_factory() as session:
            await load_seed(session=session, seed=seed)
            await seed_care_records(session=session)  # assessments, plans, tasks (issue 16)
            await session.commit()
        await hub.registry.load()
        host, port, _, _ = parse_mqtt_url(hub.mqtt_url)
        # Livelier than real life so a visitor sees calls within a minute or two.
        fleet = Fleet.from_seed(seed, speed=args.speed, behaviour=Behaviour(call_rate_per_h=2.0))
        publisher = MqttPublisher(host, port, fleet=fleet).connect()
        sim = threading.Thread(
            target=fleet.run,
            args=(args.duration or 10**9,),
            kwargs={"publish": publisher.publish, "stop": stop},
            daemon=True,
        )
        sim.start()
        base = f"http://{settings.http_host}:{settings.http_port}"
        print(
            f"""
care-hub demo is running: {len(seed["residents"])} simulated residents, broker {hub.mqtt_url}
  wall screen  {base}/wall     sign in as nurse / {creds["nurse"]}
  family page  {base}/family   sign in as family / {creds["family"]}
  API docs     {base}/docs     admin / {creds["admin"]}
Ctrl-C stops.""",
            flush=True,
        )
        try:
            if args.duration:
                await asyncio.sleep(args.duration)
                server.should_exit = True
            await serve
        finally:
            stop.set()
            sim.join(timeout=5)
            publisher.close(timeout_s=2)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


async def _registered_device_ids(settings: Settings) -> list[str]:
    from sqlalchemy import select

    from care_hub.kernel.db import make_engine, make_session_factory
    from devices.models import Device

    await _database_ready(settings)
    engine = make_engine(settings.db_url)
    try:
        async with make_session_factory(engine)() as session:
            return list((await session.scalars(select(Device.id).order_by(Device.id))).all())
    finally:
        await engine.dispose()


def cmd_broker_config(args: argparse.Namespace) -> int:
    from devices.broker_config import write_broker_config, write_nats_config

    device_ids = list(args.device)
    if args.devices_file:
        device_ids += [
            line.strip()
            for line in Path(args.devices_file).read_text().splitlines()
            if line.strip()
        ]
    if args.from_registry:
        device_ids += asyncio.run(_registered_device_ids(_settings(args)))
    device_ids = list(dict.fromkeys(device_ids))  # one account per device, first order kept
    if not device_ids:
        raise CliError("no devices: give --device, --devices-file or --from-registry")
    # Every password (devices' and the hub's, generated or kept from the last run) goes to the
    # 0600 credentials file only: never to stdout, where terminals and CI logs keep it.
    try:
        files = write_broker_config(
            Path(args.out), device_ids, args.hub_username, args.hub_password
        )
    except ValueError as e:
        raise CliError(str(e)) from e
    print(
        f"wrote Mosquitto config for {len(device_ids)} devices: {files.password_file}, "
        f"{files.acl_file}, {files.mosquitto_conf}"
    )
    if args.nats_partitions:
        if args.nats_partitions > 1024:
            raise CliError("--nats-partitions must be at most 1024 (CARE_HUB_INGEST__PARTITIONS)")
        store = args.nats_store_dir or str(Path(args.out).resolve() / "jetstream")
        nats_conf = write_nats_config(
            files,
            partitions=args.nats_partitions,
            store_dir=store,
            port=args.nats_port,
            mqtt_port=args.nats_mqtt_port,
            host=args.nats_host,
        )
        print(
            f"wrote nats-server config ({args.nats_partitions} partitions, the same device "
            f"passwords as bcrypt hashes; mode 0600): {nats_conf}; run `nats-server -c {nats_conf}` and give "
            f"every hub node CARE_HUB_INGEST__BACKEND=nats, CARE_HUB_INGEST__PARTITIONS="
            f"{args.nats_partitions} and CARE_HUB_INGEST__NATS_URL=nats://{files.hub_username}:"
            f"<the 'hub' password of that file>@<host>:{args.nats_port}"
        )
    print(f"all passwords (devices and hub) are in {files.credentials_file} (mode 0600)")
    print(
        f"point the hub at it: CARE_HUB_MQTT__USERNAME={files.hub_username} and "
        "CARE_HUB_MQTT__PASSWORD from that file's 'hub' entry, or, with the embedded broker, "
        f"CARE_HUB_MQTT__BROKER_CONFIG_DIR={files.credentials_file.parent}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="care-hub", description="Elderly-care monitoring hub.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"care-hub {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the hub (HTTP API, websockets, MQTT ingest)")
    _add_common(p, hub=True)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo", help="run the hub with simulated residents and print the wall screen URL"
    )
    _add_common(p, hub=True)
    p.add_argument(
        "--residents", type=POSITIVE_INT, default=20, help="simulated residents (default 20)"
    )
    p.add_argument(
        "--speed",
        type=POSITIVE_FLOAT,
        default=1.0,
        help="simulated time per wall second (default 1)",
    )
    p.add_argument(
        "--duration",
        type=NON_NEGATIVE_FLOAT,
        default=0,
        help="stop after this many seconds (default: run)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("migrate", help="bring the database schema up to date (alembic upgrade)")
    _add_common(p)
    p.add_argument("--revision", default="head", help="target revision (default head)")
    p.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead (e.g. base)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load a seed file (or the demo community) into the database")
    _add_common(p)
    p.add_argument(
        "--file", help="seed JSON (format: simulators/residents.py); default: demo community"
    )
    p.add_argument(
        "--residents", type=POSITIVE_INT, default=20, help="demo residents when no file is given"
    )
    _add_quiet(p)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("create-user", help="create a user (admin, caregiver or family)")
    _add_common(p)
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["admin", "caregiver", "family"])
    p.add_argument("--password", help="(prompted if omitted)")
    p.add_argument("--name")
    p.add_argument("--facility-id", type=POSITIVE_INT)
    p.add_argument(
        "--resident", action="append", help="resident id a family user may see (repeatable)"
    )
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("add-device", help="provision a device (radar, button or kit)")
    _add_common(p)
    p.add_argument("device_id", help="the id it publishes under: [A-Za-z0-9_-]{1,64}")
    p.add_argument("--type", required=True, choices=["radar", "button", "kit"])
    p.add_argument("--facility-id", type=POSITIVE_INT, required=True)
    p.add_argument("--room", help="room name (as in the seed), for radars and buttons")
    p.add_argument("--resident", help="resident id it watches")
    p.add_argument(
        "--zones", help="JSON file: [{name, x0, y0, x1, y1}, ...] in room metres (radars)"
    )
    p.set_defaults(func=cmd_add_device)

    p = sub.add_parser("simulate", help="publish a simulated community to a broker")
    p.add_argument("--mqtt-url", required=False, help="broker, e.g. mqtt://127.0.0.1:1883")
    p.add_argument("--residents", type=POSITIVE_INT, default=100)
    p.add_argument("--kits", type=NON_NEGATIVE_INT, default=2)
    p.add_argument(
        "--connections",
        type=POSITIVE_INT,
        default=1,
        help="MQTT connections to spread devices over",
    )
    p.add_argument("--speed", type=POSITIVE_FLOAT, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=POSITIVE_FLOAT, default=60.0, help="seconds (default 60)")
    _add_quiet(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "record", help="append radar/frames messages from a broker to a JSONL recording"
    )
    p.add_argument("--mqtt-url", help="broker, e.g. mqtt://user:password@127.0.0.1:1883")
    p.add_argument("--out", required=True, help="recording file (appended to)")
    p.add_argument("--device", action="append", default=[], help="radar id (repeatable)")
    p.add_argument(
        "--duration", type=NON_NEGATIVE_FLOAT, default=0.0, help="seconds (default: until Ctrl-C)"
    )
    p.add_argument(
        "--max-messages",
        type=NON_NEGATIVE_INT,
        default=0,
        help="stop after this many (0 = no cap)",
    )
    _add_quiet(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("broker-config", help="write a Mosquitto password file and per-device ACL")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", action="append", default=[], help="device id (repeatable)")
    p.add_argument("--devices-file", help="file with one device id per line")
    p.add_argument("--hub-username", default="care-hub")
    p.add_argument(
        "--hub-password", help="(default: the one saved in the credentials file, else generated)"
    )
    p.add_argument(
        "--from-registry",
        action="store_true",
        help="add every device registered in the database (see --database-url)",
    )
    _add_common(p)
    p.add_argument(
        "--nats-partitions",
        type=POSITIVE_INT,
        help="also write nats-server.conf for the NATS ingest backend with this many partitions",
    )
    p.add_argument("--nats-port", type=_port, default=4222, help="NATS client port")
    p.add_argument("--nats-mqtt-port", type=_port, default=1883, help="its MQTT listener's port")
    p.add_argument("--nats-host", default="0.0.0.0", help="address nats-server listens on")
    p.add_argument("--nats-store-dir", help="JetStream store (default: <out>/jetstream)")
    p.set_defaults(func=cmd_broker_config)

    p = sub.add_parser("report", help="alert response times (median, p90) and false-alarm rates")
    _add_common(p)
    p.add_argument("--facility-id", type=POSITIVE_INT, help="one facility (default: all)")
    p.add_argument(
        "--days", type=POSITIVE_FLOAT, default=30.0, help="window ending now (default 30 days)"
    )
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"care-hub {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the operator; the traceback only with --verbose
        if args.verbose:
            log.exception("care-hub %s failed", args.command)
        print(f"care-hub {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
