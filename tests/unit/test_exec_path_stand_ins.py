"""The IPAM's stand-ins for stdlib modules it no longer imports on an exec
(docs/performance.md, "What each verb imports"), each checked against the module it
replaces, on generated input (hypothesis). Pure.

| stand-in                      | replaces                           | checked on              |
|-------------------------------|------------------------------------|-------------------------|
| ``ranges.parse_ip`` fast path | ``ipaddress.ip_address`` (IPv4)    | digits and dots, any IP |
| ``paths.quote_segment``       | ``urllib.parse.quote(s, safe="")`` | any text                |
| ``paths.split_server``        | ``urllib.parse.urlsplit``          | server URLs, any text   |
| ``backoff.uniform``           | ``random.uniform``                 | its bounds              |
| ``endpoints._copied``         | ``copy.deepcopy``                  | generated JSON values   |
| ``pools.Record``              | a frozen dataclass of its fields   | eq, hash, repr, frozen  |
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spidernet.alloc.pools import Record
from spidernet.ipam import endpoints
from spidernet.ipmath.ranges import parse_ip
from spidernet.k8s import backoff
from spidernet.k8s.paths import quote_segment, split_server
from spidernet.types.record import FrozenInstanceError


def stdlib_ip(text: str) -> tuple[int, int] | str:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return "refused"
    return addr.version, int(addr)


def ours(text: str) -> tuple[int, int] | str:
    try:
        return parse_ip(text)
    except ValueError:
        return "refused"


@given(st.text(alphabet="0123456789.", max_size=17) | st.ip_addresses().map(str) | st.text())
def test_parse_ip_reads_every_text_as_ipaddress_does(text: str) -> None:
    assert ours(text) == stdlib_ip(text)


@pytest.mark.parametrize(
    "text", ["1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.", "１.2.3.4", "0.0.0.0"]
)
def test_parse_ip_refuses_or_reads_the_edge_cases_as_ipaddress_does(text: str) -> None:
    assert ours(text) == stdlib_ip(text)


@given(st.text())
def test_a_path_segment_is_quoted_as_urllib_quotes_it(segment: str) -> None:
    assert quote_segment(segment) == urllib.parse.quote(segment, safe="")


SERVERS = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["https", "http", "HTTPS"]),
    st.sampled_from(["127.0.0.1", "Kube.Example.COM", "[::1]", "a-b.c", "user@h", ""]),
    st.sampled_from(["", ":6443", ":0", ":65535", ":65536", ":", ":x"]),
    st.sampled_from(["", "/", "/prefix/", "/p?q=1", "/p#f", "/%41"]),
)


def stdlib_split(url: str) -> tuple[str | None, int | None, str] | str:
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.hostname, parts.port, parts.path
    except ValueError:
        return "refused"


def our_split(url: str) -> tuple[str | None, int | None, str] | str:
    try:
        return split_server(url)
    except ValueError:
        return "refused"


@given(SERVERS | st.text())
def test_the_server_url_is_split_as_urlsplit_splits_it(url: str) -> None:
    assert our_split(url) == stdlib_split(url)


def test_uniform_stays_within_its_bounds() -> None:
    draws = [backoff.uniform(0.5, 1.5) for _ in range(2000)]
    assert all(0.5 <= d <= 1.5 for d in draws)
    assert max(draws) - min(draws) > 0.9  # spread over the interval, not one value


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_an_endpoint_copy_is_a_deep_copy(value: object) -> None:
    copied = endpoints._copied(value)
    assert copied == copy.deepcopy(value)
    if isinstance(value, dict | list) and value:
        assert copied is not value


@dataclasses.dataclass(frozen=True)
class Reference:
    pod: str
    pod_uid: str
    cooldown_until: str = ""
    strikes: int = 0


FIELDS = st.tuples(st.text(max_size=5), st.text(max_size=5), st.text(max_size=5), st.integers(0, 3))


@given(FIELDS, FIELDS)
def test_a_pool_record_compares_hashes_and_shows_as_its_dataclass_did(
    a: tuple[str, str, str, int], b: tuple[str, str, str, int]
) -> None:
    ra, rb, da, db = Record(*a), Record(*b), Reference(*a), Reference(*b)
    assert (ra == rb) == (da == db)
    assert hash(ra) == hash(Record(*a))
    assert repr(ra) == repr(da).replace("Reference(", "Record(")
    assert Record(a[0], a[1], strikes=a[3], cooldown_until=a[2]) == ra


def test_a_pool_record_is_frozen() -> None:
    r = Record("ns/p", "u1")
    with pytest.raises(FrozenInstanceError):
        r.pod = "ns/q"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del r.strikes
    assert (r.cooldown_until, r.strikes) == ("", 0)
