"""The NetworkAttachmentDefinition one SpiderMultusConfig renders to. No I/O.

The chain, in order (docs/cli.md, "SpiderMultusConfig"):

    ifacer        macvlan/ipvlan with a vlanID other than 0, or two or more masters (a bond)
    main plugin   macvlan (mode bridge) | ipvlan | sriov | ovs, with
                  "ipam": {"type": "spiderpool", default pools}  unless disableIPAM
                  (the pools of the block's ``ippools``, or of ``spec.ippools``, where the
                  KubeCon example puts them)
    rdma          sriov with enableRdma
    chained       each chainCNIJsonData entry, as given
    coordinator   unless enableCoordinator is false; the keys the CR's coordinator sets

``cniType: custom`` is ``customCNI`` verbatim, and nothing else. The master of
macvlan/ipvlan is ``master[0]`` (or the bond's name with two or more), suffixed
``.<vlanID>`` when there is a VLAN. The config string is written as upstream's
controller writes it (``gojson``: compact, upstream's key order), ``cniVersion`` 0.3.1
unless the ``multus.spidernet.io/cni-version`` annotation says otherwise; the NAD is
named after the CR, or ``multus.spidernet.io/cr-name``.

This module trusts its input: ``spidernet.validation.multusconfigs`` checks a CR first
(and renders it to have our plugins' own parsers read the result).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from spidernet.smc import gojson

API_VERSION = "spiderpool.spidernet.io/v2beta1"
KIND = "SpiderMultusConfig"
NAD_API_VERSION = "k8s.cni.cncf.io/v1"
NAD_KIND = "NetworkAttachmentDefinition"
ANNO_NAD_NAME = "multus.spidernet.io/cr-name"
ANNO_CNI_VERSION = "multus.spidernet.io/cni-version"
ANNO_RESOURCE = "k8s.v1.cni.cncf.io/resourceName"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MANAGED_BY = ("app.kubernetes.io/managed-by", "spidernet")  # lets the reconciler list its NADs
DEFAULT_CNI_VERSION = "0.3.1"
CNI_TYPES = ("macvlan", "ipvlan", "sriov", "ovs", "custom")
OVS_RESOURCE_PREFIX = "ovs-cni.network.kubevirt.io"

# The coordinator keys a CR may set: CR field -> CNI key, in the order upstream writes
# them; the last three upstream never writes (its quirk), we do: the user set them.
COORDINATOR_KEYS = (
    ("txQueueLen", "txQueueLen"),
    ("detectIPConflict", "detectIPConflict"),
    ("detectGateway", "detectGateway"),
    ("vethLinkAddress", "vethLinkAddress"),
    ("tunePodRoutes", "tunePodRoutes"),
    ("podMACPrefix", "podMACPrefix"),
    ("mode", "mode"),
    ("podDefaultRouteNIC", "podDefaultRouteNic"),
    ("podRPFilter", "podRPFilter"),
    ("hijackCIDR", "hijackCIDR"),
    ("hostRuleTable", "hostRuleTable"),
    ("vethMTU", "vethMTU"),
    ("policyRoutes", "policyRoutes"),
)


def cni_type(smc: Mapping[str, Any]) -> str:
    return str((smc.get("spec") or {}).get("cniType") or "custom")


def nad_name(smc: Mapping[str, Any]) -> str:
    meta = smc.get("metadata") or {}
    return str((meta.get("annotations") or {}).get(ANNO_NAD_NAME) or meta.get("name", ""))


def cni_version(smc: Mapping[str, Any]) -> str:
    annotations = (smc.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(ANNO_CNI_VERSION) or DEFAULT_CNI_VERSION)


def master(block: Mapping[str, Any]) -> str:
    """What macvlan/ipvlan sit on: the NIC, or the bond over the NICs, and its VLAN."""
    masters = list(block.get("master") or [])
    base = masters[0] if len(masters) == 1 else str((block.get("bond") or {}).get("name", ""))
    vlan = block.get("vlanID") or 0
    return f"{base}.{vlan}" if vlan else base


def plugins(smc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chain's plugin configs, in chain order (custom: empty)."""
    spec = smc.get("spec") or {}
    kind = cni_type(smc)
    if kind == "custom":
        return []
    block = spec.get(kind) or {}
    chain = _head(kind, block) + [_main(kind, block, spec)]
    if kind == "sriov" and block.get("enableRdma"):
        chain.append({"type": "rdma"})
    chain += [gojson.as_go_map(p) for p in _chained(spec)]
    if spec.get("enableCoordinator", True):
        chain.append(coordinator(spec.get("coordinator")))
    return chain


def config(smc: Mapping[str, Any]) -> str | None:
    """The NAD's ``spec.config``; None for a custom CR without ``customCNI``."""
    if cni_type(smc) == "custom":
        custom = (smc.get("spec") or {}).get("customCNI")
        return str(custom) if custom else None
    # Go marshals this map with its keys sorted: cniVersion, name, plugins.
    return gojson.dumps(
        {"cniVersion": cni_version(smc), "name": nad_name(smc), "plugins": plugins(smc)}
    )


def _head(kind: str, block: Mapping[str, Any]) -> list[dict[str, Any]]:
    masters = list(block.get("master") or [])
    vlan = int(block.get("vlanID") or 0)
    if kind not in ("macvlan", "ipvlan") or (not vlan and len(masters) < 2):
        return []
    ifacer: dict[str, Any] = {"vlanID": vlan} if vlan else {}
    ifacer |= {"type": "ifacer", "interfaces": masters}
    if block.get("bond") is not None:
        bond = block["bond"]
        ifacer["bond"] = {"name": bond.get("name", ""), "mode": int(bond.get("mode", 0))}
        if bond.get("options") is not None:
            ifacer["bond"]["options"] = bond["options"]
    return [ifacer]


def _main(kind: str, block: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if kind in ("sriov", "ovs"):
        vlan = block.get("vlanID" if kind == "sriov" else "vlan")
        if vlan is not None:
            out["vlan"] = vlan
    if kind == "sriov":
        for key, cni_key in (("minTxRateMbps", "minTxRate"), ("maxTxRateMbps", "maxTxRate")):
            if block.get(key) is not None:
                out[cni_key] = block[key]
    out["type"] = kind
    if kind in ("macvlan", "ipvlan"):
        out["master"] = master(block)
    if kind == "macvlan":
        out["mode"] = "bridge"
    if kind == "ovs":
        out["bridge"] = block.get("bridge", "")
        if block.get("deviceID"):
            out["deviceID"] = block["deviceID"]
    if not spec.get("disableIPAM"):
        out["ipam"] = _ipam(block.get("ippools") or spec.get("ippools") or {})
    if kind == "ovs" and block.get("trunk"):
        out["trunk"] = [_trunk(t) for t in block["trunk"]]
    return out


def _ipam(pools: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "spiderpool"}
    for family in ("ipv4", "ipv6"):
        if pools.get(family):
            out[f"default_{family}_ippool"] = list(pools[family])
    return out


def _trunk(trunk: Mapping[str, Any]) -> dict[str, Any]:
    return {k: trunk[k] for k in ("minID", "maxID", "id") if trunk.get(k) is not None}


def _chained(spec: Mapping[str, Any]) -> list[Any]:
    return [json.loads(text) for text in spec.get("chainCNIJsonData") or []]


def coordinator(block: Mapping[str, Any] | None) -> dict[str, Any]:
    """The coordinator's config: ``type`` and each key the CR sets (none: the plugin's defaults)."""
    block = block or {}
    out: dict[str, Any] = {}
    for cr_key, cni_key in COORDINATOR_KEYS:
        if cni_key == "podDefaultRouteNic":
            out["type"] = "coordinator"  # upstream's position of "type" in the struct
        value = block.get(cr_key)
        if value is not None and value != "" and value != []:
            out[cni_key] = value
    return out


def nad_annotations(smc: Mapping[str, Any]) -> dict[str, str]:
    """The CR's annotations (as upstream copies them), but kubectl's last-applied state of the
    CR, which would confuse a later ``kubectl apply`` of the NAD; plus the device resource."""
    meta = smc.get("metadata") or {}
    out = {k: str(v) for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    spec = smc.get("spec") or {}
    kind = cni_type(smc)
    if kind == "sriov":
        out[ANNO_RESOURCE] = str((spec.get("sriov") or {}).get("resourceName", ""))
    if kind == "ovs" and (spec.get("ovs") or {}).get("deviceID"):
        out[ANNO_RESOURCE] = f"{OVS_RESOURCE_PREFIX}/{spec['ovs'].get('bridge', '')}"
    return out


def owner_reference(smc: Mapping[str, Any]) -> dict[str, Any]:
    meta = smc.get("metadata") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def render(smc: Mapping[str, Any]) -> dict[str, Any]:
    """The whole NAD object; an ownerReference to the CR when the CR has a UID (it is stored)."""
    meta = smc.get("metadata") or {}
    nad_meta: dict[str, Any] = {"name": nad_name(smc)}
    if meta.get("namespace"):
        nad_meta["namespace"] = meta["namespace"]
    nad_meta["labels"] = dict([MANAGED_BY])
    if nad_annotations(smc):
        nad_meta["annotations"] = nad_annotations(smc)
    if meta.get("uid"):
        nad_meta["ownerReferences"] = [owner_reference(smc)]
    text = config(smc)
    return {
        "apiVersion": NAD_API_VERSION,
        "kind": NAD_KIND,
        "metadata": nad_meta,
        "spec": {"config": text} if text is not None else {},
    }
