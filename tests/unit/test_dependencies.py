"""Every run-time dependency declared in pyproject.toml is imported by the code it ships in,
and pinned in tools/requirements.lock (README "Dependencies, and why": no declared
dependency sits unused; a dropped one is justified there, with its figures). The other
way round too: every module shipped code imports is the standard library's, ours, or
provided by a declared dependency (an import that only works because another package
happens to pull its provider in is a missing declaration).

Read from the source with ``ast``, like test_layering.py: a dependency only a comment
or a test mentions does not count.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib

import pytest

from tools.testbed import paths

SHIPPED = ("spidernet", "plugins", "gc", "installer")
IMPORT_NAME = {
    "pyroute2": "pyroute2",
    "kubernetes": "kubernetes",
    "pyyaml": "yaml",
    "urllib3": "urllib3",
    "prometheus-client": "prometheus_client",
}  # distribution -> top-level module
OURS = {"spidernet", "installer"}  # the shipped packages (plugins/ and gc/ hold entry scripts)


def declared() -> list[str]:
    project = tomllib.loads((paths.REPO / "pyproject.toml").read_text())["project"]
    return [
        re.split(r"[~=<>!\[ ;]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]
    ]


def imported_top_levels() -> set[str]:
    names: set[str] = set()
    for folder in SHIPPED:
        for path in (paths.REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("dist", declared())
def test_a_declared_dependency_is_imported_by_shipped_code(dist: str) -> None:
    assert dist in IMPORT_NAME, f"{dist}: say in IMPORT_NAME which module it provides"
    assert IMPORT_NAME[dist] in imported_top_levels(), (
        f"{dist} is declared but nothing in {SHIPPED} imports it"
    )


@pytest.mark.parametrize("dist", declared())
def test_a_declared_dependency_is_pinned_in_the_lock(dist: str) -> None:
    pinned = {
        line.split("==")[0].lower()
        for line in (paths.REPO / "tools" / "requirements.lock").read_text().splitlines()
    }
    assert dist in pinned


def test_every_module_shipped_code_imports_is_declared() -> None:
    provided = {IMPORT_NAME.get(dist) for dist in declared()}
    undeclared = imported_top_levels() - set(sys.stdlib_module_names) - OURS - provided
    assert undeclared == set(), (
        f"{sorted(undeclared)}: declare the distribution in pyproject.toml [project] "
        "dependencies, pin it in tools/requirements.lock and name its module in IMPORT_NAME"
    )
