"""spiderpoolctl without a cluster: help, exit codes, validate, multus render, kubeconfig
resolution errors, tables, files, completion, colour and progress.

Case matrix:

    help            every command and sub-command answers --help with exit 0; no command:
                    help on stderr, exit 2; an unknown command or flag: one line, exit 2
    usage (2)       malformed IP for ip show / ip release; --pod without a slash;
                    --request-timeout 0
    validate        valid file exit 0; invalid exit 1 with file:line, kind/name and field;
                    several files checked together (overlap across files); stdin; invalid
                    YAML with line and column; missing file; -o json; other kinds skipped;
                    a kind: List
    multus render   YAML by default, -o json, -o config (the config string alone, byte for
                    byte); an invalid CR: exit 1, nothing printed on stdout; no CR: exit 3
    kubeconfig (4)  --kubeconfig missing; KUBECONFIG naming no file; no kubeconfig anywhere
                    and not in a pod; a context that does not exist (contexts listed); no
                    current-context; first file's current-context wins in a merged KUBECONFIG
    tables          kubectl's column layout; ages as kubectl prints them
    files           document line numbers; List items
    completion      the bash script completes commands, sub-commands, -o choices and
                    flags in a real bash; zsh wraps it with bashcompinit
    terminal        colour only on a terminal and never with NO_COLOR (a real pty);
                    progress lines only on a terminal
    packaging       both console scripts in pyproject.toml point at main
"""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from spidernet.cli import completion, console, loading, main, tables
from spidernet.k8s import official
from tools.testbed import paths

PY = sys.executable
POOL = """apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: {name}
spec:
  subnet: {subnet}
  ips: [{ips}]
"""
SMC = """apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-ens192
  namespace: kube-system
spec:
  cniType: macvlan
  macvlan:
    master: [ens192]
"""
UPSTREAM_CONFIG = (
    '{"cniVersion":"0.3.1","name":"macvlan-ens192","plugins":[{"type":"macvlan","master":"ens192",'
    '"mode":"bridge","ipam":{"type":"spiderpool"}},{"type":"coordinator"}]}'
)


def run(*argv: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    con = console.Console(out, err, inp=io.StringIO(stdin), env=env or {})
    code = main.main(list(argv), con)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ help and usage


def commands(ap: Any = None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ap = ap or main.parser()
    out = [path]
    for name, sub in completion._subparsers(ap).items():
        out += commands(sub, path + (name,))
    return out


@pytest.mark.parametrize("path", commands(), ids=lambda p: " ".join(p) or "root")
def test_every_command_answers_help(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(*path, "--help")
    assert code == 0 and "usage:" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2() -> None:
    code, _, err = run()
    assert code == 2 and "usage:" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("bogus",),
        ("pools", "--bogus"),
        ("ip", "show", "10.6.0.x"),
        ("ip", "release", "not-an-ip"),
        ("ip", "list", "--pod", "web-0"),
        ("--request-timeout", "0", "pools"),
        ("ip", "list", "--pod", "a/b", "--node", "n"),
    ],
    ids=[
        "command",
        "flag",
        "show-ip",
        "release-ip",
        "pod-without-namespace",
        "timeout",
        "two-selectors",
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: tuple[str, ...]) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "") and err.startswith("error: ") and err.count("\n") == 1


# ------------------------------------------------------------------ validate


def test_a_valid_file_passes(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POOL.format(name="a", subnet="10.6.0.0/24", ips="10.6.0.10"))
    code, out, err = run("validate", path)
    assert (
        code == 0
        and out == f"{path}:1: SpiderIPPool/a: valid\n"
        and "1 object(s) checked, 0 invalid" in err
    )


def test_an_invalid_object_names_file_line_object_and_field(tmp_path: Path) -> None:
    text = "# pools\n---\n" + POOL.format(name="a", subnet="10.6.0.1/24", ips="10.6.0.10")
    path = write(tmp_path, "p.yaml", text)
    code, out, _ = run("validate", path)
    assert code == 1
    assert out.startswith(
        f"{path}:3: SpiderIPPool/a: invalid: spec.subnet: '10.6.0.1/24' is not in canonical form"
    )


def test_pools_of_several_files_are_checked_against_each_other(tmp_path: Path) -> None:
    a = write(
        tmp_path, "a.yaml", POOL.format(name="a", subnet="10.6.0.0/24", ips="10.6.0.10-10.6.0.20")
    )
    b = write(tmp_path, "b.yaml", POOL.format(name="b", subnet="10.6.0.0/24", ips="10.6.0.20"))
    code, out, _ = run("validate", a, b)
    assert (
        code == 1
        and "10.6.0.20 also in SpiderIPPool b" in out
        and "10.6.0.20 also in SpiderIPPool a" in out
    )


def test_stdin_and_invalid_yaml_with_its_position() -> None:
    code, out, _ = run("validate", "-", stdin="kind: SpiderIPPool\nspec: [a\n")
    assert code == 1 and out.startswith("-:3:1: cannot read: invalid YAML")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(tmp_path / "nope.yaml"))
    assert code == 1 and "nope.yaml: cannot read: No such file or directory" in out


def test_json_verdicts_skip_other_kinds_and_read_lists(tmp_path: Path) -> None:
    items = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}],
    }
    path = write(tmp_path, "l.json", json.dumps(items))
    code, out, _ = run("validate", "-o", "json", path)
    data = json.loads(out)
    assert code == 0 and data["valid"] and data["objects"][0]["source"] == f"{path}:1 items[0]"
    assert data["objects"][0]["skipped"] == "v1 Namespace is not a spidernet kind"


# ------------------------------------------------------------------ multus render


def test_render_prints_the_nad_as_yaml_json_or_its_config(tmp_path: Path) -> None:
    path = write(tmp_path, "smc.yaml", SMC)
    code, out, _ = run("multus", "render", path)
    assert (
        code == 0 and "kind: NetworkAttachmentDefinition" in out and "namespace: kube-system" in out
    )
    code, out, _ = run("multus", "render", "-o", "json", path)
    assert json.loads(out)["spec"]["config"] == UPSTREAM_CONFIG
    code, out, _ = run("multus", "render", "-o", "config", path)
    assert out == UPSTREAM_CONFIG + "\n"


def test_render_refuses_an_invalid_cr_and_prints_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "smc.yaml", SMC.replace("master: [ens192]", "vlanID: 4095"))
    code, out, err = run("multus", "render", path)
    assert (code, out) == (1, "")
    assert (
        "SpiderMultusConfig/macvlan-ens192: spec.macvlan.vlanID: 4095 is outside [0, 4094]" in err
    )
    assert "spec.macvlan.master: is required" in err


def test_render_without_any_cr_is_not_found(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POOL.format(name="a", subnet="10.6.0.0/24", ips="10.6.0.10"))
    assert run("multus", "render", path)[0] == 3


# ------------------------------------------------------------------ kubeconfig resolution


def kubeconfig(
    tmp_path: Path, name: str, contexts: list[str], current: str | None, port: int = 9
) -> str:
    cfg: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"c{port}", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": c, "context": {"cluster": f"c{port}", "user": "u"}} for c in contexts
        ],
    }
    if current:
        cfg["current-context"] = current
    return write(tmp_path, name, json.dumps(cfg))


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (["--kubeconfig", "/nonexistent"], {}, "--kubeconfig /nonexistent: no such file"),
        ([], {"KUBECONFIG": "/nonexistent:/also"}, "none of its files exists"),
        ([], {"HOME": "/nonexistent"}, "no kubeconfig"),
    ],
    ids=["flag", "env", "nowhere"],
)
def test_a_missing_kubeconfig_exits_4_naming_it(
    flags: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [PY, "-m", "spidernet.cli", *flags, "pools"],
        capture_output=True,
        text=True,
        cwd=paths.REPO,
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", **env},
    )
    assert result.returncode == 4 and message in result.stderr, result.stderr


def test_an_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "k", ["a", "b"], "a")
    with pytest.raises(
        official.ConfigError, match=r"context 'x' does not exist .* \(contexts: a, b\)"
    ):
        official.OfficialClient.connect_like_kubectl(path, "x", official.Deadline(1))


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "k", ["a"], None)
    with pytest.raises(
        official.ConfigError, match="no current-context set; pick one with --context"
    ):
        official.OfficialClient.connect_like_kubectl(path, None, official.Deadline(1))


def test_merged_kubeconfigs_take_the_first_files_current_context(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path, "1", ["a"], "a", port=11)
    second = kubeconfig(tmp_path, "2", ["b"], "b", port=22)
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{second}:{first}"}
    assert official.kubeconfig_files(None, env) == [second, first]
    for context, port in ((None, 22), ("a", 11)):
        client = official.OfficialClient.connect_like_kubectl(
            None, context, official.Deadline(1), env=env
        )
        assert client.server == f"https://127.0.0.1:{port}"
        client.close()


# ------------------------------------------------------------------ tables and files


def test_tables_are_laid_out_as_kubectl_lays_them() -> None:
    text = tables.render(("name", "free"), [["pool-a", 3], ["b", None]])
    assert text.splitlines() == ["NAME     FREE", "pool-a   3", "b        <none>"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (45, "45s"),
        (119, "119s"),
        (200, "3m20s"),
        (600, "10m"),
        (3 * 3600 + 600, "3h10m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (90 * 86400, "90d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_ages_read_as_kubectl_prints_them(seconds: int, shown: str) -> None:
    assert tables.age(seconds) == shown


def test_documents_carry_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", "a: 1\n---\n\n---\n# c\nb: 2\n")
    assert [(d.source, d.obj) for d in loading.load(path)] == [
        (f"{path}:1", {"a": 1}),
        (f"{path}:6", {"b": 2}),
    ]


# ------------------------------------------------------------------ completion


def complete(words: str, script: str) -> list[str]:
    parts = words.split(" ")
    probe = f"""{script}
COMP_WORDS=({words})
COMP_CWORD={len(parts) - 1}
_spiderpoolctl
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    return subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()


def test_bash_completion_knows_commands_subcommands_choices_and_flags() -> None:
    code, script, _ = run("completion", "bash")
    assert (
        code == 0
        and "complete -o default -F _spiderpoolctl spiderpoolctl kubectl-spiderpool" in script
    )
    assert complete("spiderpoolctl ''", script)[:6] == [
        "completion",
        "gc",
        "ip",
        "multus",
        "pools",
        "validate",
    ]
    assert complete("spiderpoolctl ip r", script) == ["release"]
    assert complete("spiderpoolctl --context x ip show 10.0.0.1 -o ''", script) == ["json", "yaml"]
    assert "--force" in complete("spiderpoolctl ip release --f", script)
    assert complete("spiderpoolctl pools -o w", script) == ["wide"]


def test_zsh_completion_runs_the_bash_script_through_bashcompinit() -> None:
    code, script, _ = run("completion", "zsh")
    assert code == 0 and script.startswith("autoload -U +X bashcompinit && bashcompinit\n")


# ------------------------------------------------------------------ terminal


def on_pty(argv: list[str], env: dict[str, str]) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, cwd=paths.REPO, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", POOL.format(name="a", subnet="10.6.0.1/24", ips="10.6.0.10"))
    argv = [PY, "-m", "spidernet.cli", "validate", path]
    env = {"PATH": os.environ["PATH"], "TERM": "xterm"}
    assert "\x1b[31minvalid\x1b[0m" in on_pty(argv, env)
    assert "\x1b[" not in on_pty(argv, {**env, "NO_COLOR": "1"})
    piped = subprocess.run(argv, capture_output=True, text=True, cwd=paths.REPO, env=env)
    assert "invalid" in piped.stdout and "\x1b[" not in piped.stdout + piped.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_lines_only_on_a_terminal() -> None:
    tty, plain = _Terminal(), io.StringIO()
    console.Console(io.StringIO(), tty).progress("listing pods: 500 so far")
    console.Console(io.StringIO(), plain).progress("listing pods: 500 so far")
    assert tty.getvalue() == "\r\x1b[Klisting pods: 500 so far" and plain.getvalue() == ""


def test_both_console_scripts_point_at_main() -> None:
    scripts = tomllib.loads((paths.REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {
        "spiderpoolctl": "spidernet.cli.main:main",
        "kubectl-spiderpool": "spidernet.cli.main:main",
    }
    assert main.prog_name("/usr/local/bin/kubectl-spiderpool") == "kubectl spiderpool"
