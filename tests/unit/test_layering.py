"""Import layering of the package (docs/design.md, "Layering"), checked from the source with
``ast``.

| rule                                                          | why                              |
|---------------------------------------------------------------|----------------------------------|
| only ``spidernet.netlink`` imports pyroute2                   | one place knows netlink quirks   |
| ``ipmath``, ``alloc``, ``types`` import no I/O layer          | the pure core is tested alone    |
| nothing in ``spidernet/``, ``plugins/`` imports kubernetes,   | 300-500 ms per exec on pod start |
| but ``spidernet.k8s.official``, and it only in functions      | the GC's transport, loaded late  |
| the plugins' import closure holds no GC, CLI, NAD rendering,  | none of that is on a pod's start |
| admission rules or ``official``                               | path                             |
| only the CLI imports ``spidernet.cli``                        | it is a leaf                     |
| the admission rules and the NAD rendering import no I/O       | the webhook and the CLI share    |
| layer but the plugins' (pure) config parsers                  | them                             |
| ``protocol`` imports only ``types`` and itself                | every plugin shares it unchanged |
| ``types`` reaches up only to ``protocol.errors``/``.versions``| leaves: CNI errors, no cycle     |
| the GC's decisions (``rules``, ``census``, ``suspects``,      | the pure core is tested alone    |
| ``plan``, ``report``) import no I/O layer; only ``census``    |                                  |
| reads ``ipam.endpoints``/``.pods`` (data)                     |                                  |
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tools.testbed import paths

IO_LAYERS = (
    "spidernet.k8s",
    "spidernet.ipam",
    "spidernet.netlink",
    "spidernet.coordinator",
    "spidernet.ifacer",
    "pyroute2",
    "kubernetes",
    "socket",
    "_socket",
    "subprocess",
    "ssl",
)


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(*parts: str) -> list[Path]:
    return sorted((paths.REPO.joinpath(*parts)).rglob("*.py"))


def offenders(files: list[Path], banned: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in files:
        bad = sorted(
            n for n in imports(path) if any(n == b or n.startswith(b + ".") for b in banned)
        )
        if bad:
            found[str(path.relative_to(paths.REPO))] = bad
    return found


def test_no_shipped_module_imports_test_support() -> None:
    """The in-memory API server (tests/unit/fake_transport.py) stands in for the apiserver
    in unit tests only."""
    files = modules("spidernet") + modules("plugins") + modules("gc") + modules("installer")
    assert offenders(files, ("tests",)) == {}


def test_no_shipped_module_imports_pyroute2() -> None:
    files = modules("spidernet") + modules("plugins") + modules("gc") + modules("installer")
    assert offenders(files, ("pyroute2",)) == {}


@pytest.mark.parametrize("module", ["messages", "records"])
def test_the_netlink_codec_imports_no_io_layer(module: str) -> None:
    path = paths.REPO / "spidernet" / "netlink" / f"{module}.py"
    banned = IO_LAYERS + ("spidernet.netlink.rtnl", "spidernet.netlink.namespaces", "ctypes")
    found = offenders([path], banned)
    pure = ("spidernet.netlink.records", "spidernet.netlink.messages")  # "import" names the package
    bad = [
        n
        for n in found.get(str(path.relative_to(paths.REPO)), [])
        if n != "spidernet.netlink" and not n.startswith(pure)
    ]
    assert bad == []


@pytest.mark.parametrize("package", ["ipmath", "alloc", "types"])
def test_the_pure_core_imports_no_io_layer(package: str) -> None:
    assert offenders(modules("spidernet", package), IO_LAYERS) == {}


OFFICIAL = paths.REPO / "spidernet" / "k8s" / "official.py"


def test_no_plugin_code_imports_the_kubernetes_client() -> None:
    files = [p for p in modules("spidernet") + modules("plugins") if p != OFFICIAL]
    assert offenders(files, ("kubernetes",)) == {}


def test_the_gcs_transport_imports_kubernetes_only_inside_functions() -> None:
    tree = ast.parse(OFFICIAL.read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in top if "kubernetes" in ast.unparse(n)] == []
    assert "kubernetes" in {n.split(".")[0] for n in imports(OFFICIAL)}  # it does use it, lazily


def _module_file(name: str) -> Path | None:
    base = paths.REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def plugin_closure() -> set[str]:
    """Every module of ours a plugin can import, following imports inside functions too."""
    todo = [p for p in modules("plugins") if p.name == "main.py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imports(path):
            found = _module_file(name) if name.startswith("spidernet") else None
            if found is not None:
                todo.append(found)
    return {str(p.relative_to(paths.REPO)) for p in seen}


OFF_PATH = (
    "spidernet/gc/",
    "spidernet/cli/",
    "spidernet/smc/",
    "spidernet/validation/",
    "spidernet/guard/",
)


def test_no_plugin_reaches_the_gc_the_cli_or_the_official_client() -> None:
    """The plugins' import closure (function-level imports included) holds none of the code
    that runs off a pod's start path: the GC, the CLI, the SpiderMultusConfig rendering and
    the admission rules, or the ``kubernetes`` client's transport."""
    closure = plugin_closure()
    assert any(p.startswith("spidernet/ipam/") for p in closure)  # the walk does find modules
    bad = sorted(
        p for p in closure if p.startswith(OFF_PATH) or p == str(OFFICIAL.relative_to(paths.REPO))
    )
    assert bad == []


def test_only_the_cli_imports_the_cli() -> None:
    files = [
        p
        for p in modules("spidernet") + modules("plugins") + modules("installer")
        if "spidernet/cli" not in str(p)
    ]
    assert offenders(files, ("spidernet.cli",)) == {}


GC_PURE = ("rules", "census", "suspects", "plan", "report")


@pytest.mark.parametrize("module", GC_PURE)
def test_the_gcs_decisions_import_no_io_layer(module: str) -> None:
    # "from spidernet.ipam import endpoints, pods" names the package too: only those data modules
    # may follow it
    allowed = (
        {"spidernet.ipam", "spidernet.ipam.endpoints", "spidernet.ipam.pods"}
        if module == "census"
        else set()
    )
    path = paths.REPO / "spidernet" / "gc" / f"{module}.py"
    found = offenders([path], IO_LAYERS + ("spidernet.gc.collecting", "spidernet.gc.command"))
    bad = [n for n in found.get(str(path.relative_to(paths.REPO)), []) if n not in allowed]
    assert bad == []


def test_the_protocol_layer_imports_only_types_and_itself() -> None:
    banned = tuple(b for b in IO_LAYERS if b not in ("socket", "subprocess", "ssl")) + (
        "spidernet.alloc",
    )
    assert offenders(modules("spidernet", "protocol"), banned) == {}


def test_types_reaches_up_only_to_the_two_leaf_modules_of_protocol() -> None:
    """``protocol`` sits above ``types`` but holds the error taxonomy in ``protocol/errors.py``;
    ``types`` must raise those errors (a result that cannot be converted is code 1 or 6), so it
    may import ``protocol.errors`` and ``protocol.versions``, and these two stay leaves: they
    import nothing of ours but each other, so no cycle can form through them."""
    upward = {
        n
        for p in modules("spidernet", "types")
        for n in imports(p)
        if n.startswith("spidernet.protocol")
    }
    assert upward <= {
        "spidernet.protocol",
        "spidernet.protocol.errors",
        "spidernet.protocol.versions",
    }
    for leaf in ("errors", "versions"):
        ours = {
            n
            for n in imports(paths.REPO / "spidernet" / "protocol" / f"{leaf}.py")
            if n.startswith("spidernet")
        }
        assert ours <= {"spidernet.protocol", "spidernet.protocol.errors"}


PARSERS = {
    "spidernet.coordinator.config",
    "spidernet.ifacer.config",
    "spidernet.coordinator",
    "spidernet.ifacer",
}


@pytest.mark.parametrize(
    "path",
    modules("spidernet", "validation")
    + [paths.REPO / "spidernet" / "smc" / m for m in ("nads.py", "gojson.py")],
    ids=lambda p: p.name,
)
def test_the_admission_rules_and_the_nad_rendering_import_no_io_layer(path: Path) -> None:
    """Pure, so the webhook and ``spiderpoolctl validate`` run them anywhere; the one reach
    into a plugin package is its config parser (pure too: it reads a config, no netlink)."""
    found = offenders([path], IO_LAYERS).get(str(path.relative_to(paths.REPO)), [])
    assert [n for n in found if n not in PARSERS] == []


# ---------------------------------------------------------------- one error vocabulary per layer

# The coordinator's and ifacer's device, probe and netlink code raises its own errors
# (spidernet/coordinator/failures.py, spidernet/ifacer/devices.py, NetlinkFailure); only
# the config readers (which name the offending field, as the protocol layer does) and
# each plugin's wiring module may use the CNI error classes.
PROTOCOL_SIDE = {"plugin.py", "config.py", "bondopts.py", "__init__.py"}
DEVICE_CODE = [
    p
    for p in modules("spidernet", "netlink")
    + modules("spidernet", "coordinator")
    + modules("spidernet", "ifacer")
    if p.name not in PROTOCOL_SIDE
]


@pytest.mark.parametrize("path", DEVICE_CODE, ids=lambda p: str(p.relative_to(paths.REPO)))
def test_device_and_netlink_code_raises_no_cni_error(path: Path) -> None:
    assert offenders([path], ("spidernet.protocol.errors",)) == {}


def _translating_functions(path: Path) -> set[str]:
    """Functions with an ``except`` clause that raises a CNI error: where codes are mapped."""
    found = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for handler in (n for n in ast.walk(fn) if isinstance(n, ast.ExceptHandler)):
            for node in ast.walk(handler):
                call = node.exc if isinstance(node, ast.Raise) else None
                func = call.func if isinstance(call, ast.Call) else None
                if isinstance(func, ast.Attribute) and ast.unparse(func).startswith("errors."):
                    found.add(fn.name)
    return found


# The IPAM's pure core, its store and verbs raise ``spidernet.alloc.failures`` (and API
# errors); only the spiderpool plugin's wiring maps them to CNI codes, and its config
# readers name offending keys as the protocol layer does. The GC and the CLI, which are
# no CNI plugins, map the same failures to their own reports and exit codes.
IPAM_PROTOCOL_SIDE = {"plugin.py", "config.py", "cluster.py"}
IPAM_CODE = (
    modules("spidernet", "alloc")
    + [p for p in modules("spidernet", "ipam") if p.name not in IPAM_PROTOCOL_SIDE]
    + modules("spidernet", "gc")
    + modules("spidernet", "cli")
)


@pytest.mark.parametrize("path", IPAM_CODE, ids=lambda p: str(p.relative_to(paths.REPO)))
def test_the_ipam_core_store_gc_and_cli_raise_no_cni_error(path: Path) -> None:
    assert offenders([path], ("spidernet.protocol.errors",)) == {}
    names = {n.id for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Name)}
    cni_classes = {"CniError", "TryAgainLater", "InvalidConfig", "PluginError", "InvalidEnv"}
    assert names & cni_classes == set()  # nor reaches them through another module


@pytest.mark.parametrize("plugin", ["coordinator", "ifacer", "ipam"])
def test_each_plugin_maps_errors_to_codes_in_one_place(plugin: str) -> None:
    path = paths.REPO / "spidernet" / plugin / "plugin.py"
    assert _translating_functions(path) == {"_translated"}
