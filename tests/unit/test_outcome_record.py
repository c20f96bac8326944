"""The per-exec outcome record (spidernet/protocol/outcomes.py, through ``skel.run``) and
its reader in the installer (installer/tailing.py).

| case                                                   | expected                                |
|--------------------------------------------------------|-----------------------------------------|
| an ADD that succeeds, a DEL that fails with code 7     | one line each: plugin, verb, code,      |
|                                                        | seconds, network                        |
| VERSION                                                | no line                                 |
| figures noted by the plugin                            | in its line                             |
| a FIFO at the record's path, ``off``, an unwritable dir| the exec answers as ever, nothing       |
|                                                        | written, nothing blocks                 |
| the record past its size bound                         | renamed to ``.1`` by the exec that      |
|                                                        | crossed it; never more than two files   |
| the reader across random appends, partial lines and    | every complete line exactly once, in    |
| rotations (one between reads at most)                  | order                                   |
"""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

import pytest

from installer.tailing import Tail
from spidernet.protocol import errors, outcomes, skel
from spidernet.types.results import Result

CONF = {"cniVersion": "1.0.0", "name": "net-a", "type": "x"}


def env(record: Path | str, verb: str) -> dict[str, str]:
    return {
        "CNI_COMMAND": verb,
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/var/run/netns/none",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        "SPIDERNET_OUTCOMES": str(record),
    }


def add(cmd: object, conf: object) -> Result:
    outcomes.note(conflicts=2, pools={"p": [1, 2]})
    return Result()


def delete(cmd: object, conf: object) -> None:
    raise errors.InvalidConfig("ipam.lock_dir", "is a file")


PLUGIN = skel.Plugin(name="demo", add=add, delete=delete)


def run(record: Path | str, verb: str) -> tuple[int, str]:
    out = io.StringIO()
    status = skel.run(
        PLUGIN, environ=env(record, verb), stdin=io.BytesIO(json.dumps(CONF).encode()), stdout=out
    )
    outcomes._figures.clear()
    return status, out.getvalue()


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_each_exec_appends_its_verb_code_duration_and_network(tmp_path: Path) -> None:
    record = tmp_path / "metrics" / "outcomes.jsonl"
    assert run(record, "ADD")[0] == 0
    assert run(record, "DEL")[0] == 1
    assert run(record, "VERSION")[0] == 0
    got = lines(record)
    assert [(x["plugin"], x["verb"], x["code"], x["network"]) for x in got] == [
        ("demo", "ADD", 0, "net-a"),
        ("demo", "DEL", 7, "net-a"),
    ]
    assert all(0 <= float(x["seconds"]) < 60 for x in got)  # type: ignore[arg-type]
    assert got[0]["conflicts"] == 2 and got[0]["pools"] == {"p": [1, 2]}
    assert "conflicts" not in got[1]


def test_an_unusable_record_never_changes_or_blocks_the_exec(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    blocked = tmp_path / "file"
    blocked.write_text("")
    for where in (fifo, "off", blocked / "below-a-file.jsonl"):
        status, out = run(where, "ADD")
        assert status == 0 and json.loads(out)["cniVersion"] == "1.0.0", where
    assert blocked.read_text() == ""


def test_the_exec_that_crosses_the_bound_rotates_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcomes, "MAX_BYTES", 1000)
    record = tmp_path / "outcomes.jsonl"
    for _ in range(40):
        run(record, "ADD")
        names = {p.name for p in tmp_path.iterdir()}
        assert names <= {"outcomes.jsonl", "outcomes.jsonl.1"}
        assert not record.exists() or record.stat().st_size <= 1000
    assert 1000 < Path(f"{record}.1").stat().st_size < 1000 + 300


def test_the_reader_sees_every_complete_line_once_across_rotations(tmp_path: Path) -> None:
    rng = random.Random(os.getpid())
    path = tmp_path / "r"
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    tail, written, seen = Tail(str(path)), [], []
    fd = os.open(path, flags)
    for step in range(3000):
        line = f'{{"n":{step}}}'.encode()
        if rng.random() < 0.02:  # a rotation (the reader has read since the last one)
            seen += tail.read()
            os.replace(path, f"{path}.1")
            if rng.random() < 0.5:  # an exec that opened the file before the rename
                os.write(fd, line + b"\n")
                written.append(line)
                line = b'{"late":true}'
            os.close(fd)
            fd = os.open(path, flags)
        cut = rng.randrange(len(line) + 1)
        os.write(fd, line[:cut])  # a line may be read half-written
        if rng.random() < 0.3:
            seen += tail.read()
        os.write(fd, line[cut:] + b"\n")
        written.append(line)
        if rng.random() < 0.3:
            seen += tail.read()
    os.close(fd)
    seen += tail.read() + tail.read()
    tail.close()
    print(f"{len(written)} lines written, {len(seen)} read")
    assert seen == written
