"""The README's main job, as CI sees it: tools/demo.py's full chain (ifacer VLAN 100 ->
macvlan -> spiderpool -> coordinator) in this UML guest, with its own control plane.
It exits 0 only when every ping succeeded and the pools ended empty."""

from __future__ import annotations

import pytest

from tools import demo

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]


def test_the_readme_demo_wires_pings_and_releases_through_the_full_chain(
    bundle_bin: object,
) -> None:
    assert demo.scenario(with_vlan=True) == 0
