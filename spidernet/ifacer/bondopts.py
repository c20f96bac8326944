"""ifacer's ``bond.options`` string -> validated bond attributes. No I/O.

The string is upstream's ``"k1=v1;k2=v2"`` (docs/ifacer.md) with the kernel's sysfs
names (plus upstream's ``up_delay`` spelling of ``updelay``). What we do differently,
each because the upstream behaviour hides a mistake until traffic fails:

- an item without exactly one ``=`` or an unknown key is an error naming the item
  (upstream skips it silently, and a malformed *first* item breaks the whole string);
- named values are accepted next to numbers (``xmit_hash_policy=layer3+4``,
  ``lacp_rate=fast``), as ``ip link`` and sysfs accept them; upstream takes numbers only;
- an explicit 0 is applied (``use_carrier=0`` means something); upstream drops values <= 0;
- ``peer_notif_delay`` is the kernel's delay in ms; upstream maps it onto the peer
  notification *count*. ``num_peer_notif`` (alias ``num_grat_arp``) is the count.

Every error is ``InvalidConfig("bond.options", ...)`` (code 7). Interface names
(``primary``, ``active_slave``) stay names here; the I/O layer resolves them, and
they must be among the bond's ``interfaces``.
"""

from __future__ import annotations

import ipaddress
import re

from spidernet.protocol import errors
from spidernet.types import bounds
from spidernet.types.record import field, record

FIELD = "bond.options"
MAX_ARP_TARGETS = 16  # BOND_MAX_ARP_TARGETS in the kernel

# key -> (netlink attribute, named values or None for a plain integer, upper bound)
_INT32 = 2**31 - 1
_NAMED: dict[str, dict[str, int]] = {
    "xmit_hash_policy": {
        "layer2": 0,
        "layer3+4": 1,
        "layer2+3": 2,
        "encap2+3": 3,
        "encap3+4": 4,
        "vlan+srcmac": 5,
    },
    "lacp_rate": {"slow": 0, "fast": 1},
    "ad_select": {"stable": 0, "bandwidth": 1, "count": 2},
    "arp_validate": {
        "none": 0,
        "active": 1,
        "backup": 2,
        "all": 3,
        "filter": 4,
        "filter_active": 5,
        "filter_backup": 6,
    },
    "arp_all_targets": {"any": 0, "all": 1},
    "fail_over_mac": {"none": 0, "active": 1, "follow": 2},
    "primary_reselect": {"always": 0, "better": 1, "failure": 2},
}
_SIMPLE: dict[str, tuple[str, int]] = {
    "miimon": ("IFLA_BOND_MIIMON", _INT32),
    "updelay": ("IFLA_BOND_UPDELAY", _INT32),
    "downdelay": ("IFLA_BOND_DOWNDELAY", _INT32),
    "use_carrier": ("IFLA_BOND_USE_CARRIER", 1),
    "arp_interval": ("IFLA_BOND_ARP_INTERVAL", _INT32),
    "resend_igmp": ("IFLA_BOND_RESEND_IGMP", 255),
    "num_peer_notif": ("IFLA_BOND_NUM_PEER_NOTIF", 255),
    "all_slaves_active": ("IFLA_BOND_ALL_SLAVES_ACTIVE", 1),
    "min_links": ("IFLA_BOND_MIN_LINKS", _INT32),
    "lp_interval": ("IFLA_BOND_LP_INTERVAL", _INT32),
    "packets_per_slave": ("IFLA_BOND_PACKETS_PER_SLAVE", 65535),
    "ad_actor_sys_prio": ("IFLA_BOND_AD_ACTOR_SYS_PRIO", 65535),
    "ad_user_port_key": ("IFLA_BOND_AD_USER_PORT_KEY", 1023),
    "tlb_dynamic_lb": ("IFLA_BOND_TLB_DYNAMIC_LB", 1),
    "xmit_hash_policy": ("IFLA_BOND_XMIT_HASH_POLICY", 5),
    "lacp_rate": ("IFLA_BOND_AD_LACP_RATE", 1),
    "ad_select": ("IFLA_BOND_AD_SELECT", 2),
    "arp_validate": ("IFLA_BOND_ARP_VALIDATE", 6),
    "arp_all_targets": ("IFLA_BOND_ARP_ALL_TARGETS", 1),
    "fail_over_mac": ("IFLA_BOND_FAIL_OVER_MAC", 2),
    "primary_reselect": ("IFLA_BOND_PRIMARY_RESELECT", 2),
}
_ALIASES = {
    "up_delay": "updelay",
    "num_grat_arp": "num_peer_notif",
    "num_unsol_na": "num_peer_notif",
}
_LINK_KEYS = ("primary", "active_slave")
_OTHER_KEYS = ("arp_ip_target", "ad_actor_system", "peer_notif_delay")
KEYS = frozenset({*_SIMPLE, *_ALIASES, *_LINK_KEYS, *_OTHER_KEYS})
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


@record
class BondOptions:
    """``attrs``: netlink IFLA_BOND_* -> value, set when the bond is created.
    ``primary``/``active_slave``: interface names. ``peer_notif_delay``: ms, written
    through sysfs (docs/ifacer.md says why)."""

    attrs: dict[str, object] = field(default_factory=dict)
    primary: str = ""
    active_slave: str = ""
    peer_notif_delay: int | None = None


def parse(text: str, interfaces: tuple[str, ...] = ()) -> BondOptions:
    items = _split(text)
    attrs: dict[str, object] = {}
    links = {"primary": "", "active_slave": ""}
    delay: int | None = None
    for key, value in items.items():
        if key in _SIMPLE:
            attrs[_SIMPLE[key][0]] = _number(key, value, _SIMPLE[key][1])
        elif key in _LINK_KEYS:
            links[key] = _member(key, value, interfaces)
        elif key == "arp_ip_target":
            attrs["IFLA_BOND_ARP_IP_TARGET"] = _arp_targets(value)
        elif key == "ad_actor_system":
            attrs["IFLA_BOND_AD_ACTOR_SYSTEM"] = _mac(value)
        else:  # peer_notif_delay
            delay = _number(key, value, _INT32)
    return BondOptions(
        attrs=attrs,
        primary=links["primary"],
        active_slave=links["active_slave"],
        peer_notif_delay=delay,
    )


def _split(text: str) -> dict[str, str]:
    """``k=v;k=v`` -> {canonical key: raw value}; empty items (a trailing ``;``) are fine."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        if item.count("=") != 1:
            raise errors.InvalidConfig(FIELD, f"item {item!r} is not key=value")
        key, value = (s.strip() for s in item.split("="))
        key = _ALIASES.get(key, key)
        if key not in KEYS:
            raise errors.InvalidConfig(
                FIELD, f"unknown bond option {key!r} (known: {', '.join(sorted(KEYS))})"
            )
        if not value:
            raise errors.InvalidConfig(FIELD, f"option {key} has no value")
        if key in out:
            raise errors.InvalidConfig(FIELD, f"option {key} is given twice")
        out[key] = value
    return out


def _number(key: str, value: str, hi: int) -> int:
    named = _NAMED.get(key, {})
    if value in named:
        return named[value]
    number = bounds.parse_int(value)
    if number is None or value.startswith(("-", "+")):
        choices = f" or one of {', '.join(named)}" if named else ""
        raise errors.InvalidConfig(FIELD, f"{key}={bounds.show(value)}: want an integer{choices}")
    if number > hi:
        raise errors.InvalidConfig(FIELD, f"{key}={bounds.show(value)} is above its maximum {hi}")
    return number


def _member(key: str, value: str, interfaces: tuple[str, ...]) -> str:
    if interfaces and value not in interfaces:
        raise errors.InvalidConfig(
            FIELD, f"{key}={value!r} is not one of the bond's interfaces {list(interfaces)}"
        )
    return value


def _arp_targets(value: str) -> list[str]:
    """A JSON array (upstream's form) or a comma-separated list (sysfs's habit)."""
    if value.startswith("["):
        try:
            raw = bounds.json_document(value)
        except bounds.BadJson as e:
            raise errors.InvalidConfig(
                FIELD, f"arp_ip_target {value!r} is not a JSON array: {e}"
            ) from e
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise errors.InvalidConfig(FIELD, "arp_ip_target must be an array of IPv4 addresses")
        targets = [str(x).strip() for x in raw]
    else:
        targets = [x.strip() for x in value.split(",") if x.strip()]
    if not targets or len(targets) > MAX_ARP_TARGETS:
        raise errors.InvalidConfig(FIELD, f"arp_ip_target wants 1 to {MAX_ARP_TARGETS} addresses")
    for target in targets:
        try:
            ipaddress.IPv4Address(target)
        except ValueError as e:
            raise errors.InvalidConfig(
                FIELD, f"arp_ip_target {target!r} is not an IPv4 address"
            ) from e
    return targets


def _mac(value: str) -> str:
    if not _MAC.match(value):
        raise errors.InvalidConfig(FIELD, f"ad_actor_system {value!r} is not a MAC address")
    return value.lower()
