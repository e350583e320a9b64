"""`care-hub` command line: one-line errors and a non-zero exit instead of tracebacks, arguments
validated by argparse, --version, only the options a command uses, progress on long work."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import bcrypt
import pytest

from care_hub import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse: usage errors, --help, --version
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines and lines[-1].startswith("care-hub "), err
    for needle in needles:
        assert needle in lines[-1], err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("care-hub ")


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--days", "-3"],
        ["report", "--days", "nan"],
        ["report", "--facility-id", "0"],
        ["seed", "--residents", "0"],
        ["simulate", "--residents", "-1"],
        ["simulate", "--duration", "0"],
        ["record", "--out", "x.jsonl", "--max-messages", "-5"],
        ["serve", "--port", "70000"],
        ["create-user", "bob", "--role", "nurse"],
    ],
)
def test_bad_arguments_are_refused_by_argparse(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "error: argument" in err and "Traceback" not in err


def _options(command: str) -> set[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices[command]._option_string_actions)


@pytest.mark.parametrize("command", ["migrate", "seed", "create-user", "add-device", "report"])
def test_database_commands_take_no_broker_or_http_options(command: str) -> None:
    assert {"--data-dir", "--database-url"} <= _options(command)
    assert not {"--mqtt-url", "--host", "--port"} & _options(command)


def test_help_lists_only_each_commands_options(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "report", "--help")
    assert "--mqtt-url" not in out and "--port" not in out and "--quiet" not in out
    _, out, _ = run(capsys, "serve", "--help")
    assert "--mqtt-url" in out and "--port" in out
    for command in ("seed", "simulate", "record"):
        _, out, _ = run(capsys, command, "--help")
        assert "--quiet" in out


def test_report_on_a_missing_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "report", "--data-dir", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err, "no database at", "care-hub migrate")
    assert not (tmp_path / "nowhere" / "care-hub.db").exists()


def test_report_on_an_empty_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "care-hub.db").touch()
    code, _, err = run(capsys, "report", "--data-dir", str(tmp_path))
    assert_one_line_error(code, err, "no care-hub schema")


def test_bad_database_urls(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "report", "--database-url", "foo://bar/x")
    assert_one_line_error(code, err, "bad database URL")
    code, _, err = run(capsys, "migrate", "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert_one_line_error(code, err, "care-hub migrate:")


def test_bad_broker_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate", "--mqtt-url", "http://example:1883", "--duration", "1")
    assert_one_line_error(code, err, "MQTT URL")


def test_create_user_in_a_facility_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = str(tmp_path / "var")
    assert run(capsys, "migrate", "--data-dir", data)[0] == 0
    code, _, err = run(
        capsys,
        "create-user", "bob", "--role", "caregiver", "--password", "a-long-password",
        "--facility-id", "99", "--data-dir", data,
    )  # fmt: skip
    assert_one_line_error(code, err, "facility 99 does not exist")


def test_seed_then_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    code, out, err = run(capsys, "seed", "--residents", "2", "--data-dir", data, "--quiet")
    assert code == 0 and out.startswith("created: "), err
    code, out, _ = run(capsys, "report", "--data-dir", data, "--json", "--days", "1")
    assert code == 0 and isinstance(json.loads(out), dict)


def test_progress_lines_and_quiet() -> None:
    out = io.StringIO()
    with cli.progress(lambda s: f"working {s:.1f}", quiet=False, interval_s=0.05, out=out):
        import time

        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and all(line.startswith("working ") for line in lines)
    quiet = io.StringIO()
    with cli.progress(lambda s: "x", quiet=True, interval_s=0.01, out=quiet):
        time.sleep(0.1)
    assert quiet.getvalue() == ""


def test_serve_without_auto_migrate_refuses_a_schema_behind_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARE_HUB_AUTO_MIGRATE", "false")
    data = str(tmp_path / "var")
    assert run(capsys, "migrate", "--data-dir", data, "--revision", "0001")[0] == 0
    code, _, err = run(capsys, "serve", "--data-dir", data, "--port", "1")
    assert_one_line_error(code, err, "database at 0001", "care-hub migrate")


def test_broker_config_from_the_registry_with_nats(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = str(tmp_path / "var")
    assert run(capsys, "seed", "--residents", "2", "--data-dir", data, "--quiet")[0] == 0
    out_dir = tmp_path / "broker"
    code, out, err = run(
        capsys,
        "broker-config", "--out", str(out_dir), "--from-registry", "--data-dir", data,
        "--device", "extra-1", "--nats-partitions", "4",
    )  # fmt: skip
    assert code == 0, err
    creds = json.loads((out_dir / "device-credentials.json").read_text())
    ids = [d["device_id"] for d in creds["devices"]]
    assert ids[0] == "extra-1" and len(ids) > 1 and len(set(ids)) == len(ids)
    nats_conf = (out_dir / "nats-server.conf").read_text()
    lines = nats_conf.splitlines()
    for d in creds["devices"]:
        line = next(ln for ln in lines if f'user: "{d["device_id"]}", password: "' in ln)
        stored = line.split('password: "', 1)[1].split('"', 1)[0]
        # the device's own password, as a bcrypt hash (never the password itself)
        assert d["password"] not in nats_conf
        assert bcrypt.checkpw(d["password"].encode(), stored.encode())
    # no password on stdout
    assert all(d["password"] not in out for d in creds["devices"])
    assert creds["hub"]["password"] not in out


def test_broker_config_needs_devices(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "broker-config", "--out", str(tmp_path / "b"))
    assert_one_line_error(code, err, "no devices")
