"""The UML runner (tools/testbed/uml.py) runs commands in a kernel that has the link
types the host kernel lacks (docs/testbed.md, "The host kernel"), and hands back what they did.

Case matrix (one UML boot per case, about 2 s each):

    guest command                              | checked on the host
    -------------------------------------------+---------------------------------------------
    2 dummies -> bond (active-backup, miimon   | `ip -d -j link show` JSON: bond mode and
    100) -> VLAN 100 on the bond, all up       | miimon, both dummies enslaved, VLAN id 100
                                               | whose parent is the bond
    sh: print to stdout and stderr, exit 3     | returncode 3, each stream kept apart
    sh: print $GREETING and pwd                | env and cwd reach the command; PATH has
                                               | /usr/sbin; host /tmp (tmp_path) is shared
    any command, with an unknown module asked  | UmlError quoting modprobe's complaint
    sleep past a 5 s timeout                   | UmlTimeout, no UML process left behind
    two runs at once                           | both succeed with their own output

Skipped, with the reason from ``uml.available()``, where UML cannot boot.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tools.testbed import uml

pytestmark = pytest.mark.uml

BOND_OVER_DUMMIES_WITH_VLAN = """
set -e
ip link add d0 type dummy
ip link add d1 type dummy
ip link add bond0 type bond mode active-backup miimon 100
ip link set d0 master bond0
ip link set d1 master bond0
ip link add link bond0 name bond0.100 type vlan id 100
ip link set bond0 up
ip link set bond0.100 up
ip -d -j link show
"""


@pytest.fixture(autouse=True)
def uml_available() -> None:
    reason = uml.available()
    if reason is not None:
        pytest.skip(reason)


def links_by_name(ip_json: str) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in json.loads(ip_json)}


def uml_kernel_groups() -> set[int]:
    """Process groups of live host processes running the UML kernel binary (zombies excluded).

    Groups, not pids: the guest suite of test_in_uml.py boots in the background while these
    tests run, and its guest processes come and go as host processes of its own group, which
    already exists before any test here starts. A guest of ours left behind is a new group.
    """
    groups: set[int] = set()
    for entry in Path("/proc").iterdir():
        try:
            exe = os.readlink(entry / "exe")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if exe == str(uml.LINUX_UML) and state not in ("Z", "X"):
            groups.add(int(pgrp))
    return groups


def test_uml_guest_builds_a_bond_of_two_dummies_with_a_vlan_on_top() -> None:
    result = uml.run(["sh", "-c", BOND_OVER_DUMMIES_WITH_VLAN])
    assert result.returncode == 0, result.stderr
    links = links_by_name(result.stdout)

    bond = links["bond0"]["linkinfo"]
    assert bond["info_kind"] == "bond"
    assert bond["info_data"]["mode"] == "active-backup"
    assert bond["info_data"]["miimon"] == 100
    slaves = {name for name, link in links.items() if link.get("master") == "bond0"}
    assert slaves == {"d0", "d1"}
    assert {links[s]["linkinfo"]["info_slave_kind"] for s in slaves} == {"bond"}

    vlan = links["bond0.100"]
    assert vlan["linkinfo"]["info_kind"] == "vlan"
    assert vlan["linkinfo"]["info_data"]["id"] == 100
    assert vlan["link"] == "bond0"


def test_a_failing_commands_exit_code_and_both_streams_come_back_apart() -> None:
    result = uml.run(["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "to-stdout\n", "to-stderr\n")


def test_env_and_cwd_reach_the_guest_command_and_host_tmp_is_shared(tmp_path: Path) -> None:
    (tmp_path / "from-host").write_text("hello guest\n")
    script = 'echo "$GREETING"; pwd; cat from-host; command -v ip; echo done > from-guest'
    result = uml.run(["sh", "-c", script], env={"GREETING": "hi there"}, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hi there", str(tmp_path), "hello guest", "/usr/sbin/ip"]
    assert (tmp_path / "from-guest").read_text() == "done\n"


def test_a_module_that_fails_to_load_is_an_error_naming_it() -> None:
    with pytest.raises(uml.UmlError, match="no_such_module"):
        uml.run(["true"], modules=["no_such_module"])


def test_a_guest_that_outlives_its_timeout_is_killed_with_all_its_processes() -> None:
    before = uml_kernel_groups()
    with pytest.raises(uml.UmlTimeout):
        uml.run(["sleep", "60"], timeout=5)
    assert uml_kernel_groups() - before == set()


def test_two_guests_run_at_once_and_keep_their_output_apart() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda word: uml.run(["echo", word]), ["first", "second"]))
    assert [(r.returncode, r.stdout) for r in results] == [(0, "first\n"), (0, "second\n")]
