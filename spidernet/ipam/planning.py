"""Which pools an ADD may try for one interface, in which order, and why the others are refused.
Does I/O (reads).

The selection rules themselves are pure (spidernet/alloc/selection.py); this module
fetches what they need, and only that: the namespace only when the pod's annotations
name no pool, the node and namespace labels only when a pool has an affinity on them,
the Multus annotations only when a pool has ``multusName``, and for default pools and
globs a LIST answered as a Table (names and flags, no records).
"""

from __future__ import annotations

from spidernet.alloc import selection
from spidernet.alloc.failures import Refused
from spidernet.alloc.pools import Pool
from spidernet.ipam import pods
from spidernet.ipam.attachments import Notes
from spidernet.ipam.config import IpamConf
from spidernet.ipam.store import Store
from spidernet.ipmath.ranges import RangeSet
from spidernet.protocol.env import CmdArgs
from spidernet.types.record import record

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from spidernet.ipam.objects import ApiObject, PoolObject


class Context:
    """One ADD: the request, the pod, and what has been read so far (``claimed`` and
    ``reserved`` are filled in as the ADD reads them)."""

    def __init__(
        self, cmd: CmdArgs, conf: IpamConf, store: Store, pod: pods.PodInfo, node: str, notes: Notes
    ) -> None:
        self.cmd, self.conf, self.store = cmd, conf, store
        self.pod, self.node, self.notes = pod, node, notes
        self.claimed: set[str] = set()
        self.reserved: dict[int, RangeSet] | None = None
        self._namespace: tuple[ApiObject | None] | None = None

    def namespace(self) -> ApiObject | None:
        """The pod's namespace, read once per ADD: its pool annotation (rule 3) and a
        pool's namespaceAffinity judge the same object, read after the ADD began."""
        if self._namespace is None:
            self._namespace = (self.store.namespace(self.pod.namespace),)
        return self._namespace[0]


def candidates(ctx: Context, ifname: str) -> selection.Candidates:
    ann = ctx.pod.annotations
    # Rules 1-2 (pod annotations) alone first: the namespace is read only when they yield nothing.
    found = selection.candidates(
        ifname=ifname, pod_annotations=ann, ns_annotations=None, conf_v4=(), conf_v6=()
    )
    if found is None:
        ns_obj = ctx.namespace() or {}
        found = selection.candidates(
            ifname=ifname,
            pod_annotations={},
            ns_annotations=ns_obj.get("metadata", {}).get("annotations") or {},
            conf_v4=ctx.conf.default_v4,
            conf_v6=ctx.conf.default_v6,
        )
    if found is not None:
        return found
    summaries = ctx.store.pool_summaries()  # rule 5: names and flags only, no records
    v4 = tuple(s.name for s in summaries if s.default and s.family == 4)
    v6 = tuple(s.name for s in summaries if s.default and s.family == 6)
    if not (v4 or v6):
        raise Refused(
            "no pool for this pod: no ippool annotation, no namespace or CNI default pools, "
            "and no pool has spec.default",
        )
    return selection.Candidates("pools with spec.default", v4, v6)


def load(
    ctx: Context, family: int, names: tuple[str, ...]
) -> tuple[list[tuple[Pool, PoolObject]], dict[str, str]]:
    """Fetch the named pools (globs expanded against the pools of this family); returns (pools,
    reasons)."""
    if any(selection.is_glob(n) for n in names):
        known = sorted(s.name for s in ctx.store.pool_summaries() if s.family in (family, 0))
        names = selection.expand(names, known)
    objs = {n: ctx.store.pool(n) for n in names}
    found = [(Pool.parse(o), o) for o in objs.values() if o is not None]
    return found, {n: "not found" for n, o in objs.items() if o is None}


def pod_view(ctx: Context, pools: list[Pool]) -> selection.PodView:
    need_node = any(not p.node_name and p.node_affinity is not None for p in pools)
    need_ns = any(not p.namespace_name and p.namespace_affinity is not None for p in pools)
    node_obj = ctx.store.node(ctx.node) if need_node else None
    ns_obj = ctx.namespace() if need_ns else None
    network = ""
    if any(
        p.multus_name for p in pools
    ):  # decoded only when a pool asks (a malformed one is code 7)
        network = selection.network_of(
            ctx.cmd.ifname,
            ctx.pod.annotations,
            ctx.pod.namespace,
            ctx.conf.network,
            ctx.conf.multus,
        )
    return selection.PodView(
        namespace=ctx.pod.namespace,
        labels=ctx.pod.labels,
        node=ctx.node,
        node_labels=(node_obj or {}).get("metadata", {}).get("labels") or {},
        ns_labels=(ns_obj or {}).get("metadata", {}).get("labels") or {},
        network=network,
        multus_namespace=ctx.conf.multus.namespace,
    )


@record
class Plan:
    """Per family, the usable pools in the order they are tried, and why the others were refused."""

    family: int
    pools: list[tuple[Pool, PoolObject]]
    reasons: dict[str, str]
    view: selection.PodView

    def names(self) -> set[str]:
        """The usable pools' names (those tried)."""
        return {p.name for p, _ in self.pools}


def plan(ctx: Context, family: int, names: tuple[str, ...]) -> Plan:
    loaded, reasons = load(ctx, family, names)
    view = pod_view(ctx, [p for p, _ in loaded])
    usable = []
    for pool, obj in loaded:
        reason = selection.refusal(pool, family, view)
        if reason:
            reasons[pool.name] = reason
        else:
            usable.append((pool, obj))
    return Plan(
        family,
        sorted(usable, key=lambda po: selection.priority(po[0]), reverse=True),
        reasons,
        view,
    )
