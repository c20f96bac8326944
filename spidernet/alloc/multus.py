"""Multus network-selection annotations, decoded exactly as Multus decodes them (I6, docs/ipam.md).
No I/O.

Pod annotations are written by namespace users, and a pool's ``multusName`` is a
security boundary (tenant isolation): if we read an annotation differently from
Multus, a pod can attach one network while we believe it attached another. So we
follow Multus's ``parsePodNetworkAnnotation`` and Go's ``encoding/json``:

- JSON is used when the value contains any of ``[``, ``{`` or ``"``; else it is the
  comma form ``[<namespace>/]<name>[@<ifname>]``, each part a DNS-1123 label.
- JSON must be an array of objects. Object keys match the struct's fields
  case-insensitively (Unicode simple folding: ``ſ`` is an ``s``, the Kelvin sign a
  ``k``), and when a field appears twice the *last* occurrence wins. ``null`` leaves a
  string field unchanged. Unknown keys are ignored; a wrong type is an error (Multus
  fails the pod; we answer code 7 naming the annotation).
- An empty namespace means the pod's namespace for ``k8s.v1.cni.cncf.io/networks``
  and Multus's own namespace for ``v1.multus-cni.io/default-network``.
Differentially tested against Go's decoder (tests/unit/test_multus_decoding.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from spidernet.alloc.failures import BadInput
from spidernet.types import bounds
from spidernet.types.record import record

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

ANNO_DEFAULT = "v1.multus-cni.io/default-network"
ANNO_NETWORKS = "k8s.v1.cni.cncf.io/networks"
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# The fields of Multus's NetworkSelectionElement we read (the others cannot fold onto
# these: their names differ in length or letters). A wrong type in another field makes
# Multus refuse the pod before any IPAM runs, so we need not check those.
_FIELDS = ("name", "namespace", "interface")


@record
class Selection:
    namespace: str
    name: str
    interface: str  # "" when not requested: Multus names it net<index+1>

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse(raw: str, default_namespace: str, where: str) -> list[Selection]:
    """The network selections of one annotation value, in order."""
    if any(c in raw for c in '[{"'):
        items = [_from_object(o, where, i) for i, o in enumerate(_array(raw, where))]
    else:
        items = [_from_text(part.strip(), where) for part in raw.split(",")]
    return [Selection(s.namespace or default_namespace, s.name, s.interface) for s in items]


class _Object(list[tuple[str, "Any"]]):
    """A JSON object as its (key, value) pairs in document order, duplicates kept."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _array(raw: str, where: str) -> list[Any]:
    try:
        data = bounds.json_document(raw, parse_constant=_reject_constant, object_pairs_hook=_Object)
    except bounds.BadJson as e:
        raise BadInput(where, f"not valid JSON: {e}") from None
    if not isinstance(data, list) or isinstance(data, _Object):
        raise BadInput(where, "must be a JSON array of network selections")
    return data


def fold_equal(key: str, field: str) -> bool:
    """Go's case-insensitive key match, rune by rune, for our (ASCII) field names.

    A rune matches a letter when it case-folds to it: ASCII case, ``ſ`` -> ``s`` and the
    Kelvin sign -> ``k`` (Go's simple-folding orbits); ``ı`` and ``İ`` do not fold to ``i``.
    """
    return len(key) == len(field) and all(k == f or k.casefold() == f for k, f in zip(key, field))


def _field_of(key: str) -> str:
    return key if key in _FIELDS else next((f for f in _FIELDS if fold_equal(key, f)), "")


def _from_object(obj: Any, where: str, index: int) -> Selection:
    if not isinstance(obj, _Object):
        raise BadInput(f"{where}[{index}]", "must be a JSON object")
    values = {"name": "", "namespace": "", "interface": ""}
    for key, value in obj:  # document order: the last occurrence of a field wins
        field = _field_of(key)
        if not field or value is None:
            continue  # unknown keys are ignored; Go: null leaves a string unchanged
        if not isinstance(value, str):
            raise BadInput(f"{where}[{index}].{key}", f"must be a string, got {value!r}")
        values[field] = value
    return Selection(values["namespace"], values["name"], values["interface"])


def _from_text(item: str, where: str) -> Selection:
    slash = item.split("/")
    if len(slash) > 2:
        raise BadInput(where, f"{item!r}: invalid network object (failed at '/')")
    namespace, rest = (slash[0].strip(), slash[1]) if len(slash) == 2 else ("", slash[0])
    at = rest.split("@")
    if len(at) > 2:
        raise BadInput(where, f"{item!r}: invalid network object (failed at '@')")
    name, interface = at[0].strip(), (at[1].strip() if len(at) == 2 else "")
    if not name:  # Multus would then look up a NetworkAttachmentDefinition named "" and fail
        raise BadInput(where, f"{item!r}: no network name")
    for part in (namespace, name, interface):
        if part and not _LABEL.fullmatch(part):
            raise BadInput(where, f"failed to parse network object {item!r}")
    return Selection(namespace, name, interface)


@record
class Setup:
    """Multus's own configuration, as the cluster administrator gave it (the cluster IPAM
    config: its ``multusNamespace``, ``defaultNetworks`` and ``systemNamespaces``).

    Multus attaches, in this order: the cluster network as eth0; then, to every pod
    outside the system namespaces, each default network; then the pod's annotation
    networks. A NIC without a requested name is ``net<i>``, ``i`` its position in that
    whole list, so with two default networks the annotation's first network is net3.
    """

    namespace: str = "kube-system"
    default_networks: tuple[str, ...] = ()
    system_namespaces: tuple[str, ...] = ("kube-system",)

    def defaults_for(self, pod_namespace: str) -> tuple[str, ...]:
        """The default networks ("ns/name", net1 first) a pod of this namespace gets."""
        if pod_namespace in self.system_namespaces:
            return ()
        return tuple(n if "/" in n else f"{self.namespace}/{n}" for n in self.default_networks)


def nic_networks(
    annotations: Mapping[str, str], pod_namespace: str, setup: Setup
) -> dict[str, str]:
    """ifname -> the NAD ("ns/name") Multus attaches as that NIC, eth0 left out: the default
    networks, then the annotation's (a malformed annotation is code 7 naming it)."""
    defaults = setup.defaults_for(pod_namespace)
    out = {f"net{i + 1}": key for i, key in enumerate(defaults)}
    raw = annotations.get(ANNO_NETWORKS, "").strip()
    chosen = parse(raw, pod_namespace, f"pod annotation {ANNO_NETWORKS}") if raw else []
    for i, sel in enumerate(chosen):
        out[sel.interface or f"net{len(defaults) + i + 1}"] = sel.key
    return out


def still_requested(
    annotations: Mapping[str, str], ifname: str, pod_namespace: str, setup: Setup
) -> bool:
    """Does the pod still ask Multus for ``ifname``? False only when it clearly does not.

    eth0 (the cluster network) and the default networks are always there. A pod with no
    networks annotation, or one we cannot read, counts as still asking (we cannot tell
    an unplug from a sandbox rebuild).
    """
    if ifname == "eth0" or not annotations.get(ANNO_NETWORKS, "").strip():
        return True
    try:
        return ifname in nic_networks(annotations, pod_namespace, setup)
    except BadInput:
        return True
