"""What a plugin exec imports, per verb: every module costs every pod its import time
(docs/performance.md, "What each verb imports"). Each case imports a verb's modules in a
fresh ``python -I -S`` and lists what got loaded.

| verb                        | modules imported         | must not load                     |
|-----------------------------|--------------------------|-----------------------------------|
| VERSION (every plugin)      | ``protocol.skel`` only   | the plugin's package, ``types``,  |
|                             |                          | dataclasses, typing, inspect,     |
|                             |                          | sockets, ctypes, subprocess       |
| coordinator ADD, DEL, CHECK | its plugin, verbs,       | dataclasses, typing, inspect,     |
|                             | netlink, protocol, types | subprocess, the socket module,    |
|                             |                          | threading, pathlib, the probes    |
| ifacer ADD, CHECK           | its plugin, devices,     | the same, and ctypes              |
|                             | links, protocol, types   |                                   |
| spiderpool ADD, DEL, CHECK, | its plugin, verbs, store,| dataclasses, typing, inspect,     |
| STATUS, GC                  | API client, alloc, ipmath| subprocess, threading, pathlib,   |
|                             |                          | urllib, datetime, random, hashlib,|
|                             |                          | tempfile, copy (``ssl`` needs the |
|                             |                          | socket module: allowed here)      |
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tools.testbed import paths

HEAVY = {"dataclasses", "typing", "inspect", "subprocess", "socket", "threading", "pathlib"}
VERBS = {
    "VERSION": (
        ["spidernet.protocol.skel"],
        HEAVY
        | {"ctypes", "ssl", "spidernet.types", "spidernet.protocol.env", "spidernet.ipam"}
        | {"spidernet.coordinator", "spidernet.ifacer", "spidernet.netlink", "spidernet.k8s"},
    ),
    "coordinator": (
        [
            "spidernet.protocol.skel",
            "spidernet.protocol.env",
            "spidernet.types.netconf",
            "spidernet.types.convert",
            "spidernet.coordinator.plugin",
            "spidernet.coordinator.adding",
            "spidernet.coordinator.deleting",
            "spidernet.coordinator.failures",
            "spidernet.netlink.routing",
        ],
        HEAVY | {"spidernet.coordinator.probes"},
    ),
    "ifacer": (
        [
            "spidernet.protocol.skel",
            "spidernet.protocol.env",
            "spidernet.types.netconf",
            "spidernet.types.convert",
            "spidernet.ifacer.plugin",
            "spidernet.ifacer.devices",
            "spidernet.netlink.links",
        ],
        HEAVY | {"ctypes"},
    ),
    "spiderpool": (
        [
            "spidernet.protocol.skel",
            "spidernet.protocol.env",
            "spidernet.types.netconf",
            "spidernet.ipam.plugin",
            "spidernet.ipam.adding",
            "spidernet.ipam.releasing",
            "spidernet.ipam.checking",
        ],
        (HEAVY - {"socket"})
        | {"urllib", "datetime", "random", "hashlib", "tempfile", "copy", "ctypes"}
        | {"spidernet.k8s.official", "spidernet.k8s.transport", "spidernet.ipam.objects"},
    ),
}


def loaded_by(modules: list[str]) -> set[str]:
    code = (
        f"import sys; sys.path.insert(0, {str(paths.REPO)!r}); "
        f"[__import__(m) for m in {modules!r}]; import json; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_a_verb_loads_none_of_the_modules_it_does_not_need(verb: str) -> None:
    modules, banned = VERBS[verb]
    loaded = loaded_by(modules)
    assert sorted(m for m in loaded if any(m == b or m.startswith(b + ".") for b in banned)) == []
