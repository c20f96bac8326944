"""tools/testbed/cni.py ``note``: which plugin replies the suite counts as a 999 of ours."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tools.testbed import cni


@pytest.fixture
def kept() -> Iterator[list[dict[str, object]]]:
    del cni.INTERNAL_ERRORS[:]
    yield cni.INTERNAL_ERRORS
    del cni.INTERNAL_ERRORS[:]  # the suite's own check must not see these


def reply(code: int, msg: str) -> str:
    return json.dumps({"cniVersion": "1.0.0", "code": code, "msg": msg}) + "\n"


def test_a_999_from_one_of_our_plugins_is_kept(kept: list[dict[str, object]]) -> None:
    cni.note(reply(999, "netlink: adding route: Invalid argument").encode())
    assert [r["msg"] for r in kept] == ["netlink: adding route: Invalid argument"]


def test_other_codes_results_and_non_json_output_are_not_kept(
    kept: list[dict[str, object]],
) -> None:
    for out in (reply(7, "invalid config: x: bad"), '{"cniVersion": "1.0.0", "ips": []}', "", "{"):
        cni.note(out)
    assert kept == []


def test_in_a_chain_only_our_catch_all_counts_as_ours(kept: list[dict[str, object]]) -> None:
    cni.note(reply(999, 'unknown FS magic on "/var/run/netns/x": ef53'), chain=True)
    cni.note(reply(999, "internal error: KeyError: 'ips'"), chain=True)
    assert [r["msg"] for r in kept] == ["internal error: KeyError: 'ips'"]
