"""The set-up scripts are shellcheck clean and never fail silently (docs/testbed.md, "Set-up").

Runs bash and shellcheck as subprocesses, with every cache under pytest's tmp_path;
injected failures happen in the first seconds of a bootstrap, before anything is built.

| case                     | how                                   | expected                     |
|--------------------------|---------------------------------------|------------------------------|
| lint                     | shellcheck on every tools/**/*.sh and | no findings (output shown)   |
|                          | .ci/run                               |                              |
| step fails               | tools/steps.sh, a command printing 30 | step, command, last 20       |
|                          | lines, exit 3                         | lines, remedy; exit 3        |
| step is long             | SPIDERNET_HEARTBEAT=1, a 2.5 s        | heartbeat lines with the     |
|                          | command                               | elapsed time                 |
| shell function as a step | its 2nd command fails                 | its 3rd never runs (`set -e` |
|                          |                                       | holds in it)                 |
| unforeseen failure       | a failing command outside any step    | ERR backstop names file,     |
|                          |                                       | line, command                |
| interrupt                | SIGTERM during a step                 | the step's processes are     |
|                          |                                       | gone, message says so        |
| cache not writable       | SPIDERNET_CACHE below a regular file  | bootstrap's step 1 names     |
|                          |                                       | SPIDERNET_CACHE              |
| apt source unreachable   | SPIDERNET_APT_OPTS: a proxy on a      | step 2 names apt's sources   |
|                          | closed port, own lists dir            | and the network              |
| test command             | tools/test.sh with that cache         | stops with the report before |
|                          |                                       | pytest                       |
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tools.testbed import paths

SCRIPTS = sorted(paths.REPO.glob("tools/**/*.sh")) + [paths.REPO / ".ci" / "run"]
STEPS = paths.REPO / "tools" / "steps.sh"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="bootstrap and tools/test.sh run as root")


def run(
    argv: list[str], tmp_path: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = os.environ | {"SPIDERNET_CACHE": str(tmp_path / "cache")} | env
    return subprocess.run(
        argv,
        cwd=paths.REPO,
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def steps_script(tmp_path: Path, body: str) -> Path:
    """A bash script that sources tools/steps.sh, then runs ``body``."""
    script = tmp_path / "driver.sh"
    script.write_text(
        f'set -euo pipefail\nsource "{STEPS}"\nsteps_init driver 2 "{tmp_path}"\nstage '
        f"first\n{body}\n"
    )
    return script


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(paths.REPO)))
def test_every_set_up_script_is_shellcheck_clean(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (tools/bootstrap.sh installs the Debian package)")
    proc = subprocess.run(
        ["shellcheck", "-x", str(script.relative_to(paths.REPO))],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_failing_step_names_itself_its_command_its_output_tail_and_the_remedy(
    tmp_path: Path,
) -> None:
    body = 'step "printing then failing" --fix "do the remedy" -- bash -c \'seq 1 30; exit 3\''
    proc = run(["bash", str(steps_script(tmp_path, body))], tmp_path)
    assert proc.returncode == 3
    err = proc.stderr
    assert "driver: FAILED at [1/2] printing then failing (exit 3" in err
    assert "command: bash -c" in err
    tail = [line.removeprefix("    | ") for line in err.splitlines() if line.startswith("    | ")]
    assert tail == [str(n) for n in range(11, 31)]
    assert "try: do the remedy" in err
    assert (tmp_path / "printing-then-failing.log").read_text().split() == [
        str(n) for n in range(1, 31)
    ]


def test_a_long_step_prints_a_heartbeat_with_the_elapsed_time(tmp_path: Path) -> None:
    body = "step \"waiting a while\" -- bash -c 'echo started; sleep 2.5'"
    proc = run(["bash", str(steps_script(tmp_path, body))], tmp_path, SPIDERNET_HEARTBEAT="1")
    assert proc.returncode == 0, proc.stderr
    beats = [line for line in proc.stderr.splitlines() if "(elapsed 0m0" in line]
    assert len(beats) >= 2, proc.stderr
    assert beats[0].startswith("driver: [1/2] waiting a while ... (elapsed 0m0")
    assert beats[0].endswith("last output: started")


def test_a_shell_function_run_as_a_step_stops_at_its_first_failing_command(tmp_path: Path) -> None:
    body = 'build() { echo one; false; echo three; }\nstep "building" -- build'
    proc = run(["bash", str(steps_script(tmp_path, body))], tmp_path)
    assert proc.returncode == 1
    log = (tmp_path / "building.log").read_text()
    assert "one" in log and "three" not in log
    assert "error at" in log and ": false (exit 1)" in log  # the backstop's line says which command


def test_an_unforeseen_failure_outside_a_step_names_the_file_line_and_command(
    tmp_path: Path,
) -> None:
    script = steps_script(tmp_path, "echo fine\nls /nonexistent-spidernet-path\necho never")
    proc = run(["bash", str(script)], tmp_path)
    assert proc.returncode == 2
    assert "never" not in proc.stdout
    assert f"driver: FAILED at [1/2] first: unexpected error at {script} line 6" in proc.stderr
    assert "command: ls /nonexistent-spidernet-path (exit 2)" in proc.stderr


def test_an_interrupted_step_stops_its_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    body = f"step \"sleeping\" -- bash -c 'echo $$ >{pidfile}; exec sleep 60'"
    script = steps_script(tmp_path, body)
    with subprocess.Popen(["bash", str(script)], stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 10
        while (
            not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        child = int(pidfile.read_text())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert 'interrupted during step "sleeping"' in err
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists(), "the step's command survived the interrupt"


def unwritable_cache(tmp_path: Path) -> str:
    # Root may write anywhere a mode allows nothing; a regular file as a parent stops it too.
    (tmp_path / "a-file").write_text("")
    return str(tmp_path / "a-file" / "cache")


def test_bootstrap_with_an_unwritable_cache_names_the_step_and_says_to_set_spidernet_cache(
    tmp_path: Path,
) -> None:
    proc = run(["bash", "tools/bootstrap.sh"], tmp_path, SPIDERNET_CACHE=unwritable_cache(tmp_path))
    assert proc.returncode != 0
    assert "bootstrap: FAILED at [1/6] cache" in proc.stderr
    assert "not writable" in proc.stderr and "Not a directory" in proc.stderr
    assert "try: set SPIDERNET_CACHE to a writable directory" in proc.stderr
    assert "VENV=" not in proc.stdout


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_root
def test_bootstrap_with_an_unreachable_apt_source_names_the_step_and_the_sources_to_check(
    tmp_path: Path,
) -> None:
    # Own lists directory: the machine's package lists are never touched.
    lists = tmp_path / "lists"
    (lists / "partial").mkdir(parents=True)
    opts = (
        f"-o Acquire::http::Proxy=http://127.0.0.1:{closed_port()} -o Dir::State::Lists={lists} "
        "-o Acquire::Retries=0"
    )
    proc = run(
        ["bash", "tools/bootstrap.sh"], tmp_path, SPIDERNET_APT_UPDATE="1", SPIDERNET_APT_OPTS=opts
    )
    assert proc.returncode != 0
    err = proc.stderr
    assert "bootstrap: FAILED at [2/6] refreshing apt package lists" in err
    assert "command: apt-get -o Acquire::http::Proxy=" in err
    assert "connect" in err.lower()  # apt's own words are in the tail
    assert "try: check /etc/apt/sources.list.d/ and that the Debian mirror is reachable" in err
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".bootstrap.lock", "logs"]


@needs_root
def test_the_test_command_stops_with_the_set_up_report_before_pytest(tmp_path: Path) -> None:
    proc = run(
        ["bash", "tools/test.sh", "-q"], tmp_path, SPIDERNET_CACHE=unwritable_cache(tmp_path)
    )
    assert proc.returncode != 0
    assert "bootstrap: FAILED at [1/6] cache" in proc.stderr
    assert (
        "test.sh: stopped: tools/bootstrap.sh failed (exit 1); its report is above" in proc.stderr
    )
    assert "passed" not in proc.stdout and "no tests ran" not in proc.stdout
