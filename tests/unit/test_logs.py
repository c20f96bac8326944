"""protocol.logs: options from config, JSON-lines file output, stderr fallback.

Case matrix:

    from_fields     empty -> default path, "info", 100 MB, 5 files; ints and numeric
                    strings ("100", " 7 ") for size/count; 0 -> default; level lower-cased;
                    "" path/level -> defaults; negative / non-numeric size -> InvalidConfig
                    naming the (nested) field; ``keys`` remaps config key names
    validate_level  debug/info/warn/warning/error ok; "trace", "" -> InvalidConfig
    setup           creates missing directories; one JSON object per line with time,
                    level, plugin, msg and the non-empty context fields; level filters
                    (warn == WARNING); exception text included; rotation at the configured
                    size keeps the configured count of files, also when another exec
                    rotated the file first; a second setup replaces the
                    file (no duplicate lines); the module-level LOG reaches the file;
                    path under a regular file or in a read-only place, or that is a
                    directory or a FIFO (never opened) -> JSON to stderr after a warning
                    saying why; never anything on stdout
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from spidernet.protocol import errors, logs
from spidernet.types.netconf import Fields

DEFAULT = "/var/log/spidernet/test.log"
CONTEXT = {
    "containerID": "ctr-1",
    "netns": "/var/run/netns/p",
    "ifname": "eth0",
    "pod": "ns/web-0",
    "podUID": "",
}


def options(data: dict[str, Any], **kwargs: Any) -> logs.LogOptions:
    return logs.LogOptions.from_fields(Fields(data), DEFAULT, **kwargs)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- options


def test_empty_config_gives_the_defaults() -> None:
    assert options({}) == logs.LogOptions(path=DEFAULT, level="info", max_size_mb=100, max_count=5)


@pytest.mark.parametrize(
    ("data", "size", "count"),
    [
        ({"log_file_max_size": 50, "log_file_max_count": 3}, 50, 3),
        ({"log_file_max_size": "100", "log_file_max_count": "7"}, 100, 7),
        ({"log_file_max_size": " 20 ", "log_file_max_count": 2}, 20, 2),
        ({"log_file_max_size": 0, "log_file_max_count": "0"}, 100, 5),
    ],
    ids=["ints", "numeric-strings", "padded-string", "zero-means-default"],
)
def test_sizes_accept_ints_and_numeric_strings(data: dict[str, Any], size: int, count: int) -> None:
    opts = options(data)
    assert (opts.max_size_mb, opts.max_count) == (size, count)


def test_path_and_level_are_read_and_level_lower_cased() -> None:
    opts = options({"log_file_path": "/tmp/x/ipam.log", "log_level": "DEBUG"})
    assert (opts.path, opts.level) == ("/tmp/x/ipam.log", "debug")


def test_empty_path_and_level_fall_back_to_defaults() -> None:
    opts = options({"log_file_path": "", "log_level": ""})
    assert (opts.path, opts.level) == (DEFAULT, "info")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("log_file_max_size", -1),
        ("log_file_max_size", "ten"),
        ("log_file_max_count", "-2"),
        ("log_file_max_count", 1.5),
    ],
)
def test_bad_sizes_name_the_nested_field(key: str, value: object) -> None:
    f = Fields({"ipam": {key: value}}).sub("ipam")
    with pytest.raises(errors.InvalidConfig) as exc:
        logs.LogOptions.from_fields(f, DEFAULT)
    assert exc.value.field == f"ipam.{key}"


def test_keys_remap_the_config_names() -> None:
    data = {"logFile": "/tmp/c.log", "logLevel": "warn", "logMaxSize": "9"}
    opts = options(data, keys={"path": "logFile", "level": "logLevel", "size": "logMaxSize"})
    assert (opts.path, opts.level, opts.max_size_mb, opts.max_count) == ("/tmp/c.log", "warn", 9, 5)


@pytest.mark.parametrize("level", logs.LEVELS)
def test_known_levels_validate(level: str) -> None:
    logs.LogOptions(path=DEFAULT, level=level).validate_level("ipam.log_level")


@pytest.mark.parametrize("level", ["trace", "verbose"])
def test_bad_level_is_invalid_config_naming_the_field(level: str) -> None:
    with pytest.raises(errors.InvalidConfig) as exc:
        logs.LogOptions.from_fields(Fields({"ipam": {"log_level": level}}).sub("ipam"), DEFAULT)
    assert (exc.value.code, exc.value.field) == (7, "ipam.log_level")
    with pytest.raises(errors.InvalidConfig):
        logs.LogOptions(path=DEFAULT, level=level).validate_level("ipam.log_level")


# ---------------------------------------------------------------- setup


def test_setup_writes_json_lines_with_context_to_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "dir" / "spiderpool.log"
    log = logs.setup("spiderpool", logs.LogOptions(path=str(path)), CONTEXT)
    log.info("allocated %s", "10.0.0.5")
    log.warning("conflict, retrying")
    lines = read_lines(path)
    assert [(line["level"], line["msg"]) for line in lines] == [
        ("INFO", "allocated 10.0.0.5"),
        ("WARNING", "conflict, retrying"),
    ]
    first = lines[0]
    assert first["plugin"] == "spiderpool"
    assert {k: first[k] for k in ("containerID", "netns", "ifname", "pod")} == {
        k: v for k, v in CONTEXT.items() if v
    }
    assert "podUID" not in first  # empty context values are left out
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("level", "written"),
    [
        ("debug", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("info", ["INFO", "WARNING", "ERROR"]),
        ("warn", ["WARNING", "ERROR"]),
        ("warning", ["WARNING", "ERROR"]),
        ("error", ["ERROR"]),
    ],
)
def test_level_filters_records(tmp_path: Path, level: str, written: list[str]) -> None:
    path = tmp_path / "p.log"
    log = logs.setup("p", logs.LogOptions(path=str(path), level=level), {})
    for emit in (log.debug, log.info, log.warning, log.error):
        emit("x")
    assert [line["level"] for line in read_lines(path)] == written


def test_exceptions_are_logged_with_their_traceback(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    log = logs.setup("p", logs.LogOptions(path=str(path)), {})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("ADD failed")
    (line,) = read_lines(path)
    assert line["msg"] == "ADD failed"
    assert "RuntimeError: boom" in line["exception"]


def test_rotation_at_the_configured_size_keeps_the_configured_count(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    log = logs.setup("p", logs.LogOptions(path=str(path), max_size_mb=1, max_count=2), {})
    for i in range(4):
        log.info(
            "%d %s", i, "x" * (600 * 1024)
        )  # each line ~0.6 MB: rotates before every other line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.log", "p.log.1", "p.log.2"]
    assert all(f.stat().st_size <= 1024 * 1024 for f in tmp_path.iterdir())
    assert read_lines(path)[0]["msg"].startswith("3 ")


def test_a_file_another_exec_rotated_away_first_still_gets_the_record(tmp_path: Path) -> None:
    """Between this exec's size check and its rename, another exec of the node rotated
    the same file: the rename finds nothing to move, and the record is not lost."""
    path = tmp_path / "p.log"
    log = logs.setup("p", logs.LogOptions(path=str(path), max_size_mb=1, max_count=2), {})
    log.info("%s", "x" * (900 * 1024))
    path.rename(tmp_path / "p.log.1")  # the other exec's rotation
    log.info("%s", "y" * (300 * 1024))  # over the size: this exec rotates too
    assert read_lines(path)[0]["msg"].startswith("y")


def test_second_setup_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    logs.setup("p", logs.LogOptions(path=str(path)), {})
    log = logs.setup("p", logs.LogOptions(path=str(path)), {})
    log.info("once")
    assert len(read_lines(path)) == 1


def test_the_module_level_log_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    logs.setup("p", logs.LogOptions(path=str(path)), {})
    logs.LOG.error("from a module")
    assert read_lines(path)[0]["msg"] == "from a module"


def test_unwritable_path_falls_back_to_stderr_saying_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("")
    log = logs.setup("ifacer", logs.LogOptions(path=str(regular / "sub" / "ifacer.log")), CONTEXT)
    log.error("still logged")
    out, err = capsys.readouterr()
    assert out == ""
    why, line = [json.loads(x) for x in err.splitlines()]
    assert why["msg"].startswith(f"log file {regular / 'sub' / 'ifacer.log'} unusable")
    assert (line["msg"], line["plugin"], line["containerID"]) == ("still logged", "ifacer", "ctr-1")


@pytest.mark.parametrize("what", ["directory", "FIFO"])
def test_a_log_path_that_is_no_regular_file_falls_back_to_stderr_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    path = tmp_path / "log"
    if what == "FIFO":
        os.mkfifo(path)  # nobody reads it: opening it to write would block for good
    else:
        path.mkdir()
    log = logs.setup("ifacer", logs.LogOptions(path=str(path)), {})
    log.warning("not a file")
    out, err = capsys.readouterr()
    assert out == ""
    why, line = [json.loads(x)["msg"] for x in err.splitlines()]
    assert (
        why
        == f"log file {path} unusable, logging to stderr: {path}: is a {what}, not a regular file"
    )
    assert line == "not a file"
