"""ifacer's network config: ``interfaces``, ``vlanID``, ``bond`` (docs/ifacer.md). No I/O.

Keys and defaults are upstream's: ``interfaces`` is required with at
least one name; ``vlanID`` is 0-4094, 0 meaning no VLAN; ``bond.name`` defaults to
``sp_bond0``; ``bond.mode`` is 0-6; ``bond.options`` is ``"k=v;k=v"`` (bondopts).

Where we are stricter than upstream, so that a broken NAD fails on its first pod with
the field named instead of later on some node (docs/ifacer.md):
- the mode and options are checked always, not only when a bond gets created;
- two or more ``interfaces`` without ``bond`` is an error (upstream does nothing, and
  the main plugin then fails on a missing master);
- interface names and the derived ``<parent>.<vlanID>`` name must be valid Linux
  names (1-15 bytes, no ``/``, no whitespace).
One interface with a ``bond`` section keeps upstream's reading: the bond is ignored.
"""

from __future__ import annotations

import re

from spidernet.ifacer import bondopts
from spidernet.protocol import errors, logs
from spidernet.types.netconf import Fields, NetConf
from spidernet.types.record import field, record

DEFAULT_BOND_NAME = "sp_bond0"
DEFAULT_LOG = "/var/log/spidernet/ifacer.log"
MAX_IFNAME = 15  # IFNAMSIZ - 1
PRIMARY_MODES = (1, 5, 6)  # active-backup, balance-tlb, balance-alb: the modes with a primary
_BAD_NAME = re.compile(r"[/\s:]")


@record
class Bond:
    name: str = DEFAULT_BOND_NAME
    mode: int = 0
    options: bondopts.BondOptions = field(default_factory=bondopts.BondOptions)


@record
class IfacerConf:
    interfaces: tuple[str, ...]
    vlan_id: int = 0
    bond: Bond | None = None
    log: logs.LogOptions = field(default_factory=lambda: logs.LogOptions(DEFAULT_LOG))

    @property
    def parent(self) -> str:
        """The device the VLAN goes on: the bond when there is one, else the interface."""
        return self.bond.name if self.bond else self.interfaces[0]

    @property
    def vlan_name(self) -> str:
        return f"{self.parent}.{self.vlan_id}"

    @property
    def master(self) -> str:
        """What the next plugin should use as its ``master``."""
        return self.vlan_name if self.vlan_id else self.parent


def parse(conf: NetConf) -> IfacerConf:
    f = conf.fields()
    interfaces = f.strs("interfaces", required=True)
    for i, name in enumerate(interfaces):
        check_name(f"interfaces[{i}]", name)
    if len(set(interfaces)) != len(interfaces):
        raise errors.InvalidConfig("interfaces", f"lists a name twice: {list(interfaces)}")
    vlan_id = f.int("vlanID", 0, lo=0, hi=4094)
    bond = _bond(f, interfaces) if len(interfaces) > 1 else None
    if bond is None:
        f.ignore("bond")  # upstream's reading: with one interface the bond section does nothing
    log = logs.LogOptions.from_fields(f.sub("logOptions"), DEFAULT_LOG, keys=logs.LOG_OPTIONS_KEYS)
    c = IfacerConf(interfaces=interfaces, vlan_id=vlan_id, bond=bond, log=log)
    if vlan_id:
        check_name("vlanID", c.vlan_name)
    return c


def _bond(f: Fields, interfaces: tuple[str, ...]) -> Bond:
    if f.data.get("bond") is None:
        raise errors.InvalidConfig(
            "bond", f"is required with {len(interfaces)} interfaces: they only make sense as a bond"
        )
    b = f.sub("bond")
    name = b.str("name") or DEFAULT_BOND_NAME
    check_name("bond.name", name)
    if name in interfaces:
        raise errors.InvalidConfig("bond.name", f"{name!r} is also listed in interfaces")
    mode = b.int("mode", 0, lo=0, hi=6)
    options = bondopts.parse(b.str("options"), interfaces)
    if (options.primary or options.active_slave) and mode not in PRIMARY_MODES:
        raise errors.InvalidConfig(
            "bond.options", f"primary/active_slave need mode 1, 5 or 6, not {mode}"
        )
    return Bond(name=name, mode=mode, options=options)


def check_name(fieldname: str, name: str) -> None:
    if not name or len(name.encode()) > MAX_IFNAME or _BAD_NAME.search(name) or name in (".", ".."):
        raise errors.InvalidConfig(
            fieldname,
            f"{name!r} is not a valid interface name (1-{MAX_IFNAME} bytes, "
            "no '/', ':' or whitespace)",
        )
