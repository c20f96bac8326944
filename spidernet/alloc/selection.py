"""Which pools a pod's interface may draw from, in which order, and why others are refused. No I/O.

Rules, the first that yields pools wins (docs/ipam.md, "Pool choice"):
1. pod annotation ``ipam.spidernet.io/ippools`` (per interface, with ``cleangateway``)
2. pod annotation ``ipam.spidernet.io/ippool``
3. namespace annotations ``ipam.spidernet.io/default-ipv4-ippool`` / ``-ipv6-``
4. CNI config ``default_ipv4_ippool`` / ``default_ipv6_ippool``
5. pools with ``spec.default: true`` (the caller lists them)
Names may be globs (expanded by the caller against the pool list, in place).
Filters give a reason per refused pool; the user's order is kept, then a *stable* sort
by affinity priority (upstream sorts unstably, losing the user's order: its quirk 2).
Malformed annotations raise ``failures.BadInput`` naming the annotation (code 7).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from spidernet.alloc import multus
from spidernet.alloc.failures import BadInput
from spidernet.alloc.pools import Pool
from spidernet.types import bounds
from spidernet.types.record import record

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

ANNO_IPPOOLS = "ipam.spidernet.io/ippools"
ANNO_IPPOOL = "ipam.spidernet.io/ippool"
ANNO_NS_V4 = "ipam.spidernet.io/default-ipv4-ippool"
ANNO_NS_V6 = "ipam.spidernet.io/default-ipv6-ippool"
ANNO_ROUTES = "ipam.spidernet.io/routes"


@record
class Candidates:
    source: str  # which rule produced them, for messages
    v4: tuple[str, ...] = ()
    v6: tuple[str, ...] = ()
    clean_gateway: bool | None = None  # per-interface override from the ippools annotation

    def names(self, family: int) -> tuple[str, ...]:
        return self.v4 if family == 4 else self.v6

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)


def _json(raw: str, where: str) -> Any:
    try:
        return bounds.json_document(raw)
    except bounds.BadJson as e:
        raise BadInput(where, f"not valid JSON: {e}") from None


def _names(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadInput(where, f"must be a list of pool names, got {value!r}")
    dup = next((v for i, v in enumerate(value) if v in value[:i]), None)
    if dup is not None:
        raise BadInput(where, f"duplicate IPPool {dup} specified in {value!r}")
    return tuple(value)


def _from_ippools(raw: str, ifname: str) -> Candidates:
    where = f"pod annotation {ANNO_IPPOOLS}"
    items = _json(raw, where)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise BadInput(where, "must be a non-empty JSON list of objects")
    if not all(isinstance(i.get("interface", ""), str) for i in items):
        raise BadInput(where, "'interface' must be a string")
    named = [bool(i.get("interface")) for i in items]
    if any(named) and not all(named):
        raise BadInput(where, "set 'interface' on every item or on none")
    keys = [i.get("interface") or str(n) for n, i in enumerate(items)]
    if len(set(keys)) != len(keys):
        raise BadInput(where, f"duplicate interface in {keys}")
    # Unnamed items are NICs in order: item 0 is eth0, item n the (n+1)th NIC of the pod.
    wanted = ifname if any(named) else _unnamed_index(ifname, len(items))
    if wanted not in keys and any(named):
        # upstream's validateAndMutateMultipleNICAnnotations: naming NICs means naming this one
        raise BadInput(where, f"interface {ifname} must be specified")
    if wanted not in keys:
        return Candidates(source=where)  # a NIC beyond the unnamed list: later rules decide
    item = items[keys.index(wanted)]
    cg = item.get("cleangateway")
    if cg is not None and not isinstance(cg, bool):
        raise BadInput(f"{where}[{keys.index(wanted)}].cleangateway", "must be true or false")
    return Candidates(
        where,
        _names(item.get("ipv4"), f"{where}.ipv4"),
        _names(item.get("ipv6"), f"{where}.ipv6"),
        cg,
    )


def _unnamed_index(ifname: str, count: int) -> str:
    if ifname == "eth0":
        return "0"
    digits = "".join(c for c in ifname if c.isdigit())
    return digits if digits and int(digits) < count else ""


def _from_pair(
    raw_v4: str | None, raw_v6: str | None, where_v4: str, where_v6: str
) -> tuple[tuple[str, ...], ...]:
    v4 = _names(_json(raw_v4, where_v4), where_v4) if raw_v4 else ()
    v6 = _names(_json(raw_v6, where_v6), where_v6) if raw_v6 else ()
    return v4, v6


def candidates(
    *,
    ifname: str,
    pod_annotations: Mapping[str, str],
    ns_annotations: Mapping[str, str] | None,
    conf_v4: Sequence[str],
    conf_v6: Sequence[str],
) -> Candidates | None:
    """The first rule that yields pool names; None means rule 5 (``spec.default`` pools).

    ``ns_annotations`` None means "not fetched yet": the caller fetches the namespace
    only when rules 1-2 yield nothing (cheaper ADDs for annotated pods).
    """
    if ANNO_IPPOOLS in pod_annotations:
        found = _from_ippools(pod_annotations[ANNO_IPPOOLS], ifname)
        if found:
            return found
    if ANNO_IPPOOL in pod_annotations:
        where = f"pod annotation {ANNO_IPPOOL}"
        item = _json(pod_annotations[ANNO_IPPOOL], where)
        if not isinstance(item, dict):
            raise BadInput(where, 'must be a JSON object like {"ipv4": ["pool"]}')
        found = Candidates(
            where,
            _names(item.get("ipv4"), f"{where}.ipv4"),
            _names(item.get("ipv6"), f"{where}.ipv6"),
        )
        if found:
            return found
    if ns_annotations is not None:
        v4, v6 = _from_pair(
            ns_annotations.get(ANNO_NS_V4),
            ns_annotations.get(ANNO_NS_V6),
            f"namespace annotation {ANNO_NS_V4}",
            f"namespace annotation {ANNO_NS_V6}",
        )
        if v4 or v6:
            return Candidates("namespace default pools", v4, v6)
    if conf_v4 or conf_v6:
        return Candidates("CNI config default pools", tuple(conf_v4), tuple(conf_v6))
    return None


def is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")


def expand(names: Sequence[str], all_names: Sequence[str]) -> tuple[str, ...]:
    """Expand glob patterns in place against ``all_names`` (sorted); literals stay as given."""
    out: list[str] = []
    for name in names:
        matches = (
            sorted(n for n in all_names if fnmatch.fnmatchcase(n, name))
            if is_glob(name)
            else [name]
        )
        out.extend(m for m in matches if m not in out)
    return tuple(out)


# ------------------------------------------------------------------ filtering


@record
class PodView:
    """What filters need to know about the pod and its surroundings."""

    namespace: str
    labels: Mapping[str, str]
    node: str
    node_labels: Mapping[str, str] | None  # None: not fetched (only needed for nodeAffinity)
    ns_labels: Mapping[str, str] | None  # None: not fetched (only needed for namespaceAffinity)
    network: str  # "<ns>/<name>" of the NAD for this interface ("" when no pool asks)
    multus_namespace: str = "kube-system"  # where a multusName entry without a namespace points


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels AND matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (
            (op == "In" and (not present or labels[key] not in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
            or (op not in ("In", "NotIn", "Exists", "DoesNotExist"))
        ):
            return False
    return True


def _multus_matches(entries: Sequence[str], network: str, multus_namespace: str) -> bool:
    """``multusName`` entries as upstream: ``ns/name``, or ``name`` in Multus's namespace."""
    return any((e if "/" in e else f"{multus_namespace}/{e}") == network for e in entries)


def refusal(pool: Pool, family: int, pod: PodView) -> str:
    """Why ``pool`` may not serve this pod's interface for ``family``; "" when it may."""
    checks: list[tuple[bool, str]] = [
        (bool(pool.broken), f"broken: {pool.broken}"),
        (pool.terminating, "terminating"),
        (pool.disable, "disabled"),
        (pool.family != family, f"is IPv{pool.family}, wanted IPv{family}"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    if pool.node_name:
        if pod.node not in pool.node_name:
            return f"nodeName {list(pool.node_name)} does not include node {pod.node!r}"
    elif pool.node_affinity is not None and not selector_matches(
        pool.node_affinity, pod.node_labels or {}
    ):
        return f"nodeAffinity does not match node {pod.node!r}"
    if pool.namespace_name:
        if pod.namespace not in pool.namespace_name:
            return f"namespaceName {list(pool.namespace_name)} does not include {pod.namespace!r}"
    elif pool.namespace_affinity is not None and not selector_matches(
        pool.namespace_affinity, pod.ns_labels or {}
    ):
        return f"namespaceAffinity does not match namespace {pod.namespace!r}"
    if pool.pod_affinity is not None and not selector_matches(pool.pod_affinity, pod.labels):
        return "podAffinity does not match the pod's labels"
    if pool.multus_name and not _multus_matches(
        pool.multus_name, pod.network, pod.multus_namespace
    ):
        return f"multusName {list(pool.multus_name)} does not include network {pod.network!r}"
    return ""


def priority(pool: Pool) -> tuple[int, ...]:
    """Higher first: podAffinity > nodeName > nodeAffinity > namespaceName > namespaceAffinity >
    multusName."""
    return (
        pool.pod_affinity is not None,
        bool(pool.node_name),
        pool.node_affinity is not None,
        bool(pool.namespace_name),
        pool.namespace_affinity is not None,
        bool(pool.multus_name),
    )


def order(pools: Sequence[Pool]) -> list[Pool]:
    """Stable: equal priorities keep the user's order."""
    return sorted(pools, key=priority, reverse=True)


def network_of(
    ifname: str,
    pod_annotations: Mapping[str, str],
    namespace: str,
    fallback: str,
    setup: multus.Setup,
) -> str:
    """The NAD ("ns/name") Multus used for ``ifname``, decoded as Multus decodes it (I6).

    eth0: ``v1.multus-cni.io/default-network`` (its first selection; namespace defaults to
    Multus's), else the cluster network, taken as ``<Multus's namespace>/<fallback>`` (the
    CNI network name: eth0's config is the administrator's cluster network). Other NICs:
    Multus's default networks first, then the entries of ``k8s.v1.cni.cncf.io/networks``
    by ``interface``, else by position after them (``multus.Setup``). A NIC none of these
    names is "": it matches no ``multusName`` (its network name is the NAD author's to
    choose, never evidence of which NAD it is).
    """
    if ifname == "eth0":
        raw = pod_annotations.get(multus.ANNO_DEFAULT, "").strip()
        chosen = (
            multus.parse(raw, setup.namespace, f"pod annotation {multus.ANNO_DEFAULT}")
            if raw
            else []
        )
        return chosen[0].key if chosen else f"{setup.namespace}/{fallback}"
    return multus.nic_networks(pod_annotations, namespace, setup).get(ifname, "")
