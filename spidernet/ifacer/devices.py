"""Make the host devices an ifacer config asks for, or check them. Does I/O (netlink).

ADD, in order (docs/ifacer.md):

    one interface:   parent up -> [same-VLAN-id guard] -> <if>.<vlanID> (reuse or create) up
    two or more:     bond (reuse, or create: slaves down, enslaved, up; bond up)
                     -> [guard] -> <bond>.<vlanID> (reuse or create) up

Everything checkable is checked before the first change (parents exist and are free,
names unused or used by the right kind of device), so most refusals change nothing.
What can only fail half-way (the kernel refusing an option, a racing process) is
rolled back: every change is pushed on an undo list, run backwards on failure, so the
host is left as it was: no bond with half its slaves, no parent left up that was down.

Reuse is by name and checked: a non-bond device under the bond's name, or a VLAN with
another parent or id under the VLAN's name, is an error, not silently used. Two first
ADDs on a node race to create the same bond or VLAN: the loser sees EEXIST and reuses
what the winner made, checked the same way.

Errors are this module's own, without CNI codes (spidernet/ifacer/plugin.py maps them,
docs/ifacer.md lists the codes): ``Refused`` when the host or the kernel refuses what
the config asks for (the config field named; also a refused bond option, at creation or
as a sysfs write, when options were given), ``ChangeRefused`` for any other kernel
refusal of a change (after the undo), ``CheckFailed`` when CHECK finds a device
missing, down or of the wrong kind.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from spidernet.ifacer.config import Bond, IfacerConf
from spidernet.netlink.links import Links
from spidernet.netlink.records import Link, NetlinkFailure
from spidernet.protocol import logs

log = logs.LOG


class Refused(Exception):
    """The host contradicts the config, or the kernel refused a bond option it names."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ChangeRefused(Exception):
    """The kernel refused a device change (what and its errno in the message); undone."""


class CheckFailed(Exception):
    """CHECK: a device is missing, down, or not what the config says."""


class Undo:
    """Changes made so far, undone newest first; an undo step that fails is logged."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, step: Callable[[], None]) -> None:
        self.steps.append((what, step))

    def run(self) -> None:
        for what, step in reversed(self.steps):
            try:
                step()
            except NetlinkFailure as e:
                log.error("undo %s failed: %s", what, e)
        self.steps.clear()


def ensure(c: IfacerConf, links: Links) -> None:
    if c.vlan_id:
        _same_id_guard(c, links)  # before any change, so a refusal changes nothing
    undo = Undo()
    try:
        parent = (
            _ensure_bond(c, c.bond, links, undo)
            if c.bond
            else _ensure_parent(links, c.interfaces[0], 0, undo)
        )
        if c.vlan_id:
            _ensure_vlan(c, parent, links, undo)
    except NetlinkFailure as e:
        undo.run()
        raise ChangeRefused(str(e)) from e
    except BaseException:
        undo.run()
        raise


def _existing(links: Links, name: str, field: str) -> Link:
    link = links.get(name)
    if link is None:
        raise Refused(field, f"interface {name!r} does not exist on this node")
    return link


def _set_up(links: Links, link: Link, undo: Undo) -> Link:
    if not link.up:
        links.set_state(link, True)
        undo.push(f"{link.name} up", lambda: links.set_state(link, False))
    return link


def _ensure_parent(links: Links, name: str, index: int, undo: Undo) -> Link:
    return _set_up(links, _existing(links, name, f"interfaces[{index}]"), undo)


# ---------------------------------------------------------------- bond


def _ensure_bond(c: IfacerConf, bond: Bond, links: Links, undo: Undo) -> Link:
    current = links.get(bond.name)
    if current is None:
        slaves = _free_slaves(c, bond, links)
        if slaves is not None and _create_bond(bond, slaves, links):
            created = _existing(links, bond.name, "bond.name")
            undo.push(f"create {bond.name}", lambda: links.delete(created))
            _build_bond(c, bond, created, slaves, links, undo)
            return _set_up(links, created, undo)
        current = _existing(links, bond.name, "bond.name")  # a racing ADD made it since we looked
    return _reuse_bond(c, bond, current, links, undo)


# The bonding driver's answers to an option: EINVAL/ERANGE a bad value, EACCES an option
# this mode does not take, EADDRNOTAVAIL a multicast ad_actor_system. Not EOPNOTSUPP: at
# creation that is "Unknown device type", a kernel without the bonding driver (code 120).
_OPTION_REFUSALS = (errno.EINVAL, errno.ERANGE, errno.EACCES, errno.EADDRNOTAVAIL)


def _has_options(bond: Bond) -> bool:
    o = bond.options
    return bool(o.attrs or o.primary or o.active_slave or o.peer_notif_delay is not None)


def _create_bond(bond: Bond, slaves: list[Link], links: Links) -> bool:
    """Create the bond; False when it appeared since we looked (EEXIST): two first ADDs
    on a node race, and the loser reuses the winner's bond as it would a VLAN.

    A refusal is the options' fault (code 7) only when there are options and the errno is
    one the driver gives for an option; anything else is a kernel refusal, code 120.
    """
    try:
        links.add_bond(bond.name, bond.mode, _creation_attrs(bond, slaves))
    except NetlinkFailure as e:
        if e.code == errno.EEXIST:
            return False
        if _has_options(bond) and e.code in _OPTION_REFUSALS:
            raise Refused("bond.options", f"the kernel refused it: {e}") from e
        raise
    return True


def _build_bond(
    c: IfacerConf, bond: Bond, created: Link, slaves: list[Link], links: Links, undo: Undo
) -> None:
    if bond.options.peer_notif_delay is not None:
        _write_option(links, created, "peer_notif_delay", str(bond.options.peer_notif_delay))
    for slave in slaves:
        _enslave(links, slave, created, undo)
    if bond.options.active_slave:
        _write_option(links, created, "active_slave", bond.options.active_slave)
    log.info("created bond %s mode %d over %s", bond.name, bond.mode, ", ".join(c.interfaces))


def _write_option(links: Links, bond: Link, knob: str, value: str) -> None:
    try:
        links.bond_sysfs(bond, knob, value)
    except NetlinkFailure as e:
        if e.code in _OPTION_REFUSALS:
            raise Refused("bond.options", f"the kernel refused {knob}={value}: {e}") from e
        raise


def _reuse_bond(c: IfacerConf, bond: Bond, current: Link, links: Links, undo: Undo) -> Link:
    if current.kind != "bond":
        kind = current.kind or "a plain device"
        raise Refused(
            "bond.name", f"{bond.name!r} already exists on this node as {kind}, not a bond"
        )
    _warn_on_other_slaves(c, current, links)
    return _set_up(links, current, undo)


def _free_slaves(c: IfacerConf, bond: Bond, links: Links) -> list[Link] | None:
    """Every interface exists and belongs to no other master: checked before creating.

    None when one already belongs to a master of the bond's name: a racing ADD created
    the bond and enslaved it since we looked for the bond.
    """
    slaves = [_existing(links, name, f"interfaces[{i}]") for i, name in enumerate(c.interfaces)]
    for i, slave in enumerate(slaves):
        if slave.master:
            owner = links.name_of(slave.master)
            if owner == bond.name:
                return None
            raise Refused(
                f"interfaces[{i}]",
                f"{slave.name} is already enslaved to {owner}, cannot put it in bond {bond.name}",
            )
    return slaves


def _creation_attrs(bond: Bond, slaves: list[Link]) -> dict[str, object]:
    attrs = dict(bond.options.attrs)
    if bond.options.primary:
        attrs["IFLA_BOND_PRIMARY"] = next(s.index for s in slaves if s.name == bond.options.primary)
    return attrs


def _enslave(links: Links, slave: Link, bond: Link, undo: Undo) -> None:
    """A slave must be down to be enslaved; the bond brings it up again."""
    if slave.up:
        links.set_state(slave, False)
        undo.push(f"{slave.name} down", lambda: links.set_state(slave, True))
    links.enslave(slave, bond)
    undo.push(f"enslave {slave.name}", lambda: links.release(slave))
    links.set_state(slave, True)


def _warn_on_other_slaves(c: IfacerConf, bond: Link, links: Links) -> None:
    slaves = links.bond_slaves(bond)
    if sorted(c.interfaces) != slaves:
        log.warning(
            "reusing bond %s whose slaves %s differ from interfaces %s: left as they are",
            bond.name,
            slaves,
            list(c.interfaces),
        )


# ---------------------------------------------------------------- VLAN


def _ensure_vlan(c: IfacerConf, parent: Link, links: Links, undo: Undo) -> Link:
    current = links.get(c.vlan_name)
    if current is None:
        try:
            links.add_vlan(c.vlan_name, parent, c.vlan_id)
            created = _existing(links, c.vlan_name, "vlanID")
            undo.push(f"create {c.vlan_name}", lambda: links.delete(created))
            log.info("created VLAN %s (id %d on %s)", c.vlan_name, c.vlan_id, parent.name)
        except NetlinkFailure as e:
            if e.code != errno.EEXIST:  # another pod's ADD won the race: check what it made
                raise
        current = _existing(links, c.vlan_name, "vlanID")
    if current.kind != "vlan" or current.peer_index != parent.index or current.vlan_id != c.vlan_id:
        raise Refused(
            "vlanID",
            f"{c.vlan_name!r} exists but is not VLAN {c.vlan_id} on {parent.name} "
            f"({_describe(current, links)})",
        )
    return _set_up(links, current, undo)


def _same_id_guard(c: IfacerConf, links: Links) -> None:
    """Upstream's rule: one VLAN device per id on a node, whatever its parent."""
    for link in links.all():
        if link.kind == "vlan" and link.vlan_id == c.vlan_id and link.name != c.vlan_name:
            raise Refused(
                "vlanID",
                f"VLAN id {c.vlan_id} is already used on this node by {link.name} "
                f"(parent {links.name_of(link.peer_index)}); one device per VLAN id",
            )


def _describe(link: Link, links: Links) -> str:
    if link.kind == "vlan":
        return f"it is VLAN {link.vlan_id} on {links.name_of(link.peer_index)}"
    return f"it is {link.kind or 'a plain device'}"


# ---------------------------------------------------------------- CHECK


def verify(c: IfacerConf, links: Links) -> None:
    """CHECK: the devices ADD made exist, are up and are what the config says."""
    expected: list[tuple[str, str, int]] = (
        [(c.bond.name, "bond", 0)] if c.bond else [(c.interfaces[0], "", 0)]
    )
    if c.vlan_id:
        expected.append((c.vlan_name, "vlan", c.vlan_id))
    for name, kind, vlan_id in expected:
        link = links.get(name)
        if link is None or not link.up:
            raise CheckFailed(f"{name} is {'down' if link else 'missing'}")
        if kind and (link.kind, link.vlan_id) != (kind, vlan_id):
            what = "a bond" if kind == "bond" else f"VLAN {vlan_id}"
            raise CheckFailed(f"{name} is not {what}")
