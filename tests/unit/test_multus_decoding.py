"""alloc.multus decodes network-selection annotations as Multus does (I6, docs/ipam.md).

Case matrix:
    JSON form     Go's encoding/json rules, differentially against Go itself (tests/unit/gojson,
                  built here with Debian's Go): keys fold case-insensitively (ſ is an s, İ is
                  not an i), the last occurrence of a field wins, null leaves a field unchanged,
                  unknown keys ignored, a wrong type, a non-array, a non-object element fail
    the attack    {"name": "secure-net", "namespace": "kube-system", "Name": "general",
                  "Namespace": <own>} is the tenant's own network, as Multus attaches it
    comma form    ns/name@if, spaces trimmed, DNS-1123 labels only; '/' or '@' twice fail
    namespaces    empty -> the default given (the pod's for networks, Multus's for the default)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spidernet.alloc import multus
from spidernet.alloc.failures import BadInput

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def go_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.skip(
            "no Go toolchain (tools/bootstrap.sh installs golang-go): cannot compare with "
            "Go's decoder"
        )
    out = tmp_path_factory.mktemp("gojson") / "gojson"
    cache = os.environ.get("SPIDERNET_CACHE", str(Path.home() / ".cache" / "spidernet"))
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOCACHE": f"{cache}/gocache",
        "GOPATH": str(out.parent),
    }
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=HERE / "gojson", env=env, check=True)
    return out


def go_decode(binary: Path, raws: list[str]) -> list[dict[str, object]]:
    proc = subprocess.run(
        [str(binary)],
        input="".join(json.dumps(r) + "\n" for r in raws),
        capture_output=True,
        text=True,
        check=True,
    )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    return [{**a, "items": a.get("items", [])} if a["ok"] else a for a in answers]


def ours(raw: str) -> dict[str, object]:
    try:
        got = multus.parse(raw, "", "annotation")
    except BadInput:
        return {"ok": False}
    return {
        "ok": True,
        "items": [
            {"name": s.name, "namespace": s.namespace, "interface": s.interface} for s in got
        ],
    }


KEYS = [
    "name",
    "Name",
    "NAME",
    "nAmE",
    "namespace",
    "Namespace",
    "NAMESPACE",
    "nameſpace",
    "NameSpace",
    "namеspace",
    "interface",
    "Interface",
    "İnterface",
    "ınterface",
    "name ",
    "foo",
    "cni-args",
]
VALUES = st.one_of(
    st.sampled_from(["general", "secure-net", "team-a", "kube-system", "", "net1"]),
    st.none(),
    st.integers(0, 3),
    st.lists(st.text(max_size=2), max_size=1),
)
OBJECT = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=6)


def render(pairs: list[tuple[str, object]]) -> str:
    return (
        "{"
        + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v)}" for k, v in pairs)
        + "}"
    )


ANNOTATION = st.one_of(
    st.lists(OBJECT, max_size=3).map(lambda objs: "[" + ",".join(render(o) for o in objs) + "]"),
    OBJECT.map(render),
    st.sampled_from(
        ["[null]", "[1]", '["a"]', "[[]]", '[{"name":"a"},]', "[{'name':'a'}]", '[{"name":"a"}] x']
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(ANNOTATION, min_size=1, max_size=20))
def test_json_annotations_decode_exactly_as_gos_encoding_json(
    go_decoder: Path, raws: list[str]
) -> None:
    assert [ours(r) for r in raws] == go_decode(go_decoder, raws)


def test_the_case_folding_attack_reads_the_network_multus_attaches(go_decoder: Path) -> None:
    raw = '[{"name":"secure-net","namespace":"kube-system","Name":"general","Namespace":"tenant"}]'
    assert multus.parse(raw, "tenant", "a") == [multus.Selection("tenant", "general", "")]
    assert go_decode(go_decoder, [raw]) == [ours(raw)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("macvlan", [("pod-ns", "macvlan", "")]),
        (
            " kube-system/macvlan@net7 , b ",
            [("kube-system", "macvlan", "net7"), ("pod-ns", "b", "")],
        ),
        ("a@", [("pod-ns", "a", "")]),
    ],
)
def test_the_comma_form_names_namespace_network_and_interface(
    raw: str, expected: list[tuple[str, str, str]]
) -> None:
    assert [
        (s.namespace, s.name, s.interface) for s in multus.parse(raw, "pod-ns", "a")
    ] == expected


@pytest.mark.parametrize("raw", ["a/b/c", "a@b@c", "Upper", "a_b", "ns/", ""])
def test_the_comma_form_refuses_what_multus_refuses(raw: str) -> None:
    with pytest.raises(BadInput):
        multus.parse(raw, "pod-ns", "a")
