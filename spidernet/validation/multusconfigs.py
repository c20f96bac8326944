"""The rules for a SpiderMultusConfig. No I/O.

Upstream's webhook rules (docs/cli.md, "SpiderMultusConfig"), then ours:

- ``spec.cniType`` one of macvlan, ipvlan, sriov, ovs, custom (absent: custom); only the
  block of that type may be set, and it must be set (custom: ``customCNI``, a JSON object,
  may be empty); ``ib-sriov``, ``ipoib`` and ``vlan`` are upstream types we do not render;
- macvlan / ipvlan: ``master`` at least one NIC, two or more need ``bond`` with a name
  and a mode 0-6; ``vlanID`` 0-4094; sriov: ``resourceName``, ``minTxRateMbps`` <=
  ``maxTxRateMbps``; ovs: ``bridge``, ``vlan`` and trunk IDs 0-4094, ``minID`` <= ``maxID``;
- ``chainCNIJsonData`` entries JSON objects with a ``type``; ``ippools`` lists of names,
  in the type's block or at ``spec.ippools`` (where the KubeCon example puts them), not both;
- annotations: ``multus.spidernet.io/cr-name`` a valid NAD name,
  ``multus.spidernet.io/cni-version`` a version our plugins speak; on update the NAD name
  annotation does not change (the old NAD would be orphaned);
- no key we do not know, at any level we render: a key the renderer skipped would
  silently do nothing (e.g. ``mtu``, ``matchMasterSubnet``, ``rdmaResourceName``);
- then the NAD is rendered and its ``ifacer`` and ``coordinator`` configs are read by
  those plugins' own parsers, so whatever they would refuse at a pod's ADD (a bond
  option, an interface name too long once ``.<vlanID>`` is added, a MAC prefix with the
  multicast bit) is refused here, named by the CR's field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from spidernet.coordinator import config as coordinator_config
from spidernet.ifacer import config as ifacer_config
from spidernet.protocol import errors, versions
from spidernet.smc import nads
from spidernet.types import netconf
from spidernet.validation import names
from spidernet.validation.problems import Problem

KIND = nads.KIND
SPEC_KEYS = frozenset(
    {
        "cniType",
        "macvlan",
        "ipvlan",
        "sriov",
        "ovs",
        "enableCoordinator",
        "disableIPAM",
        "coordinator",
        "customCNI",
        "chainCNIJsonData",
        "ippools",
    }
)
UNSUPPORTED_TYPES = ("ib-sriov", "ipoib", "vlan")
BLOCK_KEYS = {
    "macvlan": frozenset({"master", "vlanID", "bond", "ippools"}),
    "ipvlan": frozenset({"master", "vlanID", "bond", "ippools"}),
    "sriov": frozenset(
        {"resourceName", "vlanID", "minTxRateMbps", "maxTxRateMbps", "enableRdma", "ippools"}
    ),
    "ovs": frozenset({"bridge", "vlan", "trunk", "deviceID", "ippools"}),
}
COORDINATOR_KEYS = frozenset(k for k, _ in nads.COORDINATOR_KEYS) | {"podCIDRType", "hostRPFilter"}
POD_CIDR_TYPES = ("auto", "cluster", "calico", "cilium", "none")
Check = Callable[[str, Any], list[Problem]]


def problems(obj: Mapping[str, Any]) -> list[Problem]:
    meta, spec = obj.get("metadata") or {}, obj.get("spec")
    out = names.dns_subdomain("metadata.name", meta.get("name"))
    if meta.get("namespace") is not None:
        out += names.dns_label("metadata.namespace", meta.get("namespace"))
    out += _annotations(meta.get("annotations") or {})
    if not isinstance(spec, dict):
        return out + [Problem("spec", "is required (spec.cniType at least)")]
    out += _spec(spec)
    if not out:
        out += _read_by_our_plugins(obj)
    return out


def update_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Problem]:
    """The NAD's name may not change: the NAD made under the old one would be left behind."""
    before, after = nads.nad_name(old), nads.nad_name(new)
    if before == after:
        return []
    return [
        Problem(
            f"metadata.annotations[{nads.ANNO_NAD_NAME}]",
            f"the NAD's name cannot change ({before} -> {after}): create a new SpiderMultusConfig",
        )
    ]


def _annotations(annotations: Mapping[str, Any]) -> list[Problem]:
    out = []
    if nads.ANNO_NAD_NAME in annotations:
        field = f"metadata.annotations[{nads.ANNO_NAD_NAME}]"
        out += names.dns_subdomain(field, annotations[nads.ANNO_NAD_NAME])
    version = annotations.get(nads.ANNO_CNI_VERSION)
    if version is not None and version not in versions.SUPPORTED:
        out.append(
            Problem(
                f"metadata.annotations[{nads.ANNO_CNI_VERSION}]",
                f"{version!r} is not one of {list(versions.SUPPORTED)}",
            )
        )
    return out


def _spec(spec: Mapping[str, Any]) -> list[Problem]:
    kind = spec.get("cniType", "custom")
    if kind in UNSUPPORTED_TYPES:
        return [
            Problem(
                "spec.cniType",
                f"{kind!r} is not rendered by spidernet: use cniType custom with the "
                "plugin's config in spec.customCNI",
            )
        ]
    if kind not in nads.CNI_TYPES:
        return [Problem("spec.cniType", f"{kind!r} is not one of {list(nads.CNI_TYPES)}")]
    out = [Problem(f"spec.{k}", _unknown(k)) for k in spec if k not in SPEC_KEYS]
    for other in BLOCK_KEYS:
        if other != kind and spec.get(other) is not None:
            out.append(Problem(f"spec.{other}", f"is set, but cniType is {kind}: remove it"))
    if kind == "custom":
        return out + _custom(spec)
    if spec.get("customCNI") is not None:
        out.append(Problem("spec.customCNI", f"only cniType custom takes it, not {kind}"))
    out += _block(kind, spec.get(kind))
    out += _ippools("spec.ippools", spec.get("ippools"))
    if spec.get("ippools") is not None and (spec.get(kind) or {}).get("ippools") is not None:
        out.append(Problem("spec.ippools", f"is set, and so is spec.{kind}.ippools: keep one"))
    for key in ("enableCoordinator", "disableIPAM"):
        out += _bool(f"spec.{key}", spec.get(key))
    out += _coordinator(spec.get("coordinator"))
    out += _chain(spec.get("chainCNIJsonData"))
    return out


def _unknown(key: str) -> str:
    if key in ("ibsriov", "ipoib", "vlan"):
        return "is an upstream block spidernet does not render (cniType custom takes any plugin)"
    return "is not a SpiderMultusConfig field"


def _custom(spec: Mapping[str, Any]) -> list[Problem]:
    out = []
    for key in ("coordinator", "chainCNIJsonData", "ippools"):
        if spec.get(key):
            out.append(Problem(f"spec.{key}", "does nothing with cniType custom: remove it"))
    text = spec.get("customCNI")
    if text is None or text == "":
        return out
    return out + _json_object("spec.customCNI", text, need_type=False)


def _block(kind: str, block: object) -> list[Problem]:
    field = f"spec.{kind}"
    if not isinstance(block, dict):
        return [Problem(field, f"is required with cniType {kind}")]
    out = [
        Problem(f"{field}.{k}", f"is not a {kind} field spidernet renders")
        for k in block
        if k not in BLOCK_KEYS[kind]
    ]
    if kind in ("macvlan", "ipvlan"):
        out += _nics(field, block)
    elif kind == "sriov":
        out += _sriov(field, block)
    else:
        out += _ovs(field, block)
    return out + _ippools(f"{field}.ippools", block.get("ippools"))


def _nics(field: str, block: Mapping[str, Any]) -> list[Problem]:
    masters, bond = block.get("master"), block.get("bond")
    out = _int(f"{field}.vlanID", block.get("vlanID"), 0, 4094)
    if not isinstance(masters, list) or not masters:
        return out + [Problem(f"{field}.master", "is required: the node's NIC(s) the pods sit on")]
    out += names.name_list(f"{field}.master", masters, names.interface)
    if len(masters) >= 2 and not isinstance(bond, dict):
        return out + [
            Problem(f"{field}.bond", f"is required with {len(masters)} masters: they form a bond")
        ]
    if bond is None:
        return out
    if not isinstance(bond, dict):
        return out + [Problem(f"{field}.bond", "must be an object {name, mode, options}")]
    out += [
        Problem(f"{field}.bond.{k}", "is not a bond field")
        for k in bond
        if k not in ("name", "mode", "options")
    ]
    out += names.interface(f"{field}.bond.name", bond.get("name"))
    if bond.get("mode") is None:
        out.append(Problem(f"{field}.bond.mode", "is required: 0-6"))
    out += _int(f"{field}.bond.mode", bond.get("mode"), 0, 6)
    if bond.get("options") is not None and not isinstance(bond["options"], str):
        out.append(Problem(f"{field}.bond.options", "must be a string 'k=v;k=v'"))
    return out


def _sriov(field: str, block: Mapping[str, Any]) -> list[Problem]:
    out = []
    if not isinstance(block.get("resourceName"), str) or not block.get("resourceName"):
        out.append(Problem(f"{field}.resourceName", "is required: the device plugin's resource"))
    out += _int(f"{field}.vlanID", block.get("vlanID"), 0, 4094)
    low, high = block.get("minTxRateMbps"), block.get("maxTxRateMbps")
    out += _int(f"{field}.minTxRateMbps", low, 0, None)
    out += _int(f"{field}.maxTxRateMbps", high, 0, None)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        out.append(Problem(f"{field}.minTxRateMbps", f"{low} is above maxTxRateMbps {high}"))
    return out + _bool(f"{field}.enableRdma", block.get("enableRdma"))


def _ovs(field: str, block: Mapping[str, Any]) -> list[Problem]:
    out = []
    if not isinstance(block.get("bridge"), str) or not block.get("bridge"):
        out.append(Problem(f"{field}.bridge", "is required: the OVS bridge's name"))
    out += _int(f"{field}.vlan", block.get("vlan"), 0, 4094)
    trunks = block.get("trunk") or []
    if not isinstance(trunks, list):
        return out + [Problem(f"{field}.trunk", "must be a list of {minID, maxID, id}")]
    for i, trunk in enumerate(trunks):
        where = f"{field}.trunk[{i}]"
        if not isinstance(trunk, dict):
            out.append(Problem(where, "must be an object {minID, maxID, id}"))
            continue
        for key in ("minID", "maxID", "id"):
            out += _int(f"{where}.{key}", trunk.get(key), 0, 4094)
        low, high = trunk.get("minID"), trunk.get("maxID")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            out.append(Problem(f"{where}.minID", f"{low} is above maxID {high}"))
    return out


def _ippools(field: str, pools: object) -> list[Problem]:
    if pools is None:
        return []
    if not isinstance(pools, dict):
        return [Problem(field, "must be an object {ipv4: [...], ipv6: [...]}")]
    out = []
    for key, value in pools.items():
        if key == "matchMasterSubnet":
            out.append(Problem(f"{field}.{key}", "is not supported by the spiderpool IPAM"))
        elif key not in ("ipv4", "ipv6"):
            out.append(Problem(f"{field}.{key}", "is not an ippools field (ipv4, ipv6)"))
        else:
            out += names.name_list(f"{field}.{key}", value, _pool_name)
    return out


def _pool_name(field: str, value: object) -> list[Problem]:
    """A pool name or a glob of pool names (the IPAM expands globs, docs/ipam.md)."""
    if isinstance(value, str) and value:
        return []
    return [Problem(field, f"{value!r} is not a pool name")]


def _coordinator(block: object) -> list[Problem]:
    if block is None:
        return []
    if not isinstance(block, dict):
        return [Problem("spec.coordinator", "must be an object")]
    out = [
        Problem(f"spec.coordinator.{k}", "is not a coordinator field")
        for k in block
        if k not in COORDINATOR_KEYS
    ]
    kind = block.get("podCIDRType")
    if kind is not None and kind not in POD_CIDR_TYPES:
        out.append(
            Problem(
                "spec.coordinator.podCIDRType", f"{kind!r} is not one of {list(POD_CIDR_TYPES)}"
            )
        )
    return out + _int("spec.coordinator.hostRPFilter", block.get("hostRPFilter"), None, 2)


def _chain(entries: object) -> list[Problem]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        return [Problem("spec.chainCNIJsonData", "must be a list of JSON strings")]
    return [
        p
        for i, text in enumerate(entries)
        for p in _json_object(f"spec.chainCNIJsonData[{i}]", text, need_type=True)
    ]


def _json_object(field: str, text: object, *, need_type: bool) -> list[Problem]:
    if not isinstance(text, str):
        return [Problem(field, "must be a string holding a JSON object")]
    try:
        value = json.loads(text)
    except ValueError as e:
        return [Problem(field, f"is not valid JSON: {e}")]
    if not isinstance(value, dict):
        return [Problem(field, "must be a JSON object")]
    if need_type and not isinstance(value.get("type"), str):
        return [Problem(field, 'needs a "type": the plugin to run')]
    return []


def _int(field: str, value: object, lo: int | None, hi: int | None) -> list[Problem]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [Problem(field, f"must be an integer, got {value!r}")]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        return [Problem(field, f"{value} is outside {bounds}")]
    return []


def _bool(field: str, value: object) -> list[Problem]:
    if value is None or isinstance(value, bool):
        return []
    return [Problem(field, f"must be true or false, got {value!r}")]


# ------------------------------------------------------------------ our plugins' own reading


def _read_by_our_plugins(obj: Mapping[str, Any]) -> list[Problem]:
    """Render the NAD and let ifacer's and the coordinator's config parsers read it."""
    kind = nads.cni_type(obj)
    version = nads.cni_version(obj)
    out = []
    for plugin in nads.plugins(obj):
        entry = _PARSERS.get(str(plugin.get("type")))
        if entry is None:
            continue
        parser, where = entry
        raw = {"cniVersion": version, "name": nads.nad_name(obj) or "network", **plugin}
        try:
            parser(netconf.parse(raw, version))
        except errors.InvalidConfig as e:
            out.append(Problem(where(kind, e.field), e.msg.split(": ", 2)[-1]))
    return out


def _ifacer_field(kind: str, field: str) -> str:
    head, _, rest = field.partition(".")
    if head.startswith("interfaces"):
        return f"spec.{kind}.master{head[len('interfaces') :]}"
    return f"spec.{kind}.{field}" if rest or head in ("vlanID", "bond") else f"spec.{kind}"


def _coordinator_field(kind: str, field: str) -> str:
    cr_key = {cni: cr for cr, cni in nads.COORDINATOR_KEYS}
    head, sep, rest = field.partition(".")
    base = head.split("[")[0]
    return f"spec.coordinator.{cr_key.get(base, base)}{head[len(base) :]}{sep}{rest}"


_PARSERS: dict[str, tuple[Callable[[netconf.NetConf], object], Callable[[str, str], str]]] = {
    "ifacer": (ifacer_config.parse, _ifacer_field),
    "coordinator": (coordinator_config.parse, _coordinator_field),
}
