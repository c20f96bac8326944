"""ifacer's network config: ``interfaces``, ``vlanID``, ``bond`` (SPEC §3). No I/O.

Keys and defaults are upstream's (reference §1.1): ``interfaces`` is required with at
least one name; ``vlanID`` is 0-4094, 0 meaning no VLAN; ``bond.name`` defaults to
``sp_bond0``; ``bond.mode`` is 0-6; ``bond.options`` is ``"k=v;k=v"``. Upstream checks
the mode only when it creates a bond; we check it always, so a broken NAD fails on its
first pod rather than on the first node that lacks the bond.
"""

from __future__ import annotations

from dataclasses import dataclass

from spidernet.types.netconf import Fields, NetConf

DEFAULT_BOND_NAME = "sp_bond0"
MAX_IFNAME = 15


@dataclass(frozen=True)
class Bond:
    name: str = DEFAULT_BOND_NAME
    mode: int = 0
    options: str = ""


@dataclass(frozen=True)
class IfacerConf:
    interfaces: tuple[str, ...]
    vlan_id: int = 0
    bond: Bond | None = None


def parse(conf: NetConf) -> IfacerConf:
    f = Fields(conf.raw)
    interfaces = f.strs("interfaces", required=True)
    vlan_id = f.int("vlanID", 0, lo=0, hi=4094)
    bond = None
    if f.data.get("bond") is not None:
        b = f.sub("bond")
        bond = Bond(
            name=b.str("name") or DEFAULT_BOND_NAME,
            mode=b.int("mode", 0, lo=0, hi=6),
            options=b.str("options"),
        )
    return IfacerConf(interfaces=interfaces, vlan_id=vlan_id, bond=bond)
