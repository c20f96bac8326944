"""The GC's command line: options in, passes run, the report out. Does I/O (wiring only).

    python3 gc/main.py [options]          (the CronJob's command; same as python -m spidernet.gc)

One pass per run (``--once``, the default), or a pass every ``--interval`` seconds until
SIGTERM. The report of each pass is one JSON object on stdout, a summary and progress
lines go to stderr. Exit status: 0 when every object was processed, 1 when something
could not be (the report's ``errors`` name each one), 2 for bad options.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from spidernet.alloc.failures import BadInput
from spidernet.gc import collecting, publishing, rules
from spidernet.gc.report import Report
from spidernet.guard import certs, provisioning
from spidernet.ipam import cluster
from spidernet.k8s import errors as kerr
from spidernet.k8s.client import Deadline
from spidernet.k8s.transport import Transport
from spidernet.smc import reconciling

SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
IPAM_CONFIG = "/etc/spidernet/ipam/cluster-ipam.json"  # the ConfigMap spidernet-ipam, mounted


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="spidernet-gc", description="Release zombie IP records (docs/gc.md)."
    )
    add = ap.add_argument
    add(
        "--kubeconfig",
        help="credentials; default: in-cluster in a pod, else $KUBECONFIG or ~/.kube/config",
    )
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one pass, then exit (the default)")
    mode.add_argument(
        "--interval", type=_seconds, metavar="S", help="a pass every S seconds until SIGTERM"
    )
    add_pass_options(ap)
    add(
        "--retry-for",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="how long one request rides out transport failures",
    )
    return ap


def add_pass_options(ap: argparse.ArgumentParser) -> None:
    """The options of one pass, shared with ``spiderpoolctl gc`` (the same pass, docs/cli.md)."""
    k = rules.Knobs()
    add = ap.add_argument
    add(
        "--webhook-tls",
        choices=("on", "off"),
        default="on",
        help="make and rotate the admission webhook's Secret and caBundles (docs/install.md)",
    )
    add("--webhook-namespace", help="the webhook's Service and Secret; default: own namespace")
    add("--webhook-service", default="spidernet-webhook", help="the webhook's Service")
    add(
        "--webhook-ip",
        action="append",
        metavar="IP",
        help="an address the serving certificate also names (clientConfig.url set-ups)",
    )
    add("--dry-run", action="store_true", help="judge and report, change nothing")
    add(
        "--min-age",
        type=_seconds,
        default=k.min_age,
        metavar="S",
        help="release a zombie only once it has been one for S seconds, across passes (0: in the "
        "pass that finds it)",
    )
    add(
        "--terminating-delay",
        type=_seconds,
        default=k.terminating_delay,
        metavar="S",
        help="after deletionTimestamp + grace, before a terminating pod on a Ready node counts as "
        "a zombie",
    )
    add(
        "--not-ready-delay",
        type=_seconds,
        default=k.not_ready_delay,
        metavar="S",
        help="the same for a pod on a NotReady or deleted node",
    )
    add(
        "--keep-terminating-on-ready",
        action="store_true",
        help="never release terminating pods on Ready nodes",
    )
    add(
        "--keep-terminating-on-not-ready",
        action="store_true",
        help="never release terminating pods on NotReady nodes",
    )
    add(
        "--not-ready-requires-node-gone",
        action="store_true",
        help="release a terminating pod on a NotReady node only once its Node object is deleted",
    )
    add(
        "--ipam-config",
        default=IPAM_CONFIG,
        metavar="PATH",
        help="the cluster IPAM config (its max_allocation_timeout bounds how long an ADD may "
        "run; absent: the defaults)",
    )
    add(
        "--cooling-grace",
        type=_seconds,
        default=k.cooling_grace,
        metavar="S",
        help="drop a cooling record (I5) S seconds after its cooldownUntil",
    )
    add(
        "--event-namespace", default="default", help="where the Events on (cluster-scoped) pools go"
    )
    add(
        "--state-namespace",
        help="the namespace of the GC's ConfigMap; default: its own, else kube-system",
    )
    add(
        "--state-name",
        default="spidernet-gc-state",
        help="the GC's ConfigMap (first sightings of zombies)",
    )
    add("--page-size", type=_count, default=500, help="items per LIST page")
    add(
        "--timeout",
        type=_seconds,
        default=240.0,
        metavar="S",
        help="budget of one pass (the CronJob kills at 300 s)",
    )


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"{text!r}: want seconds >= 0")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: want a count >= 1")
    return value


def options(args: argparse.Namespace) -> collecting.Options:
    """The pass's options; ``BadInput`` when the cluster IPAM config is unusable."""
    ipam = cluster.load_settings(args.ipam_config)
    knobs = rules.Knobs(
        min_age=args.min_age,
        terminating_delay=args.terminating_delay,
        not_ready_delay=args.not_ready_delay,
        terminating_on_ready=not args.keep_terminating_on_ready,
        terminating_on_not_ready=not args.keep_terminating_on_not_ready,
        cooling_grace=args.cooling_grace,
        # + 1 s: the API's timestamps, which the GC's times come from, are whole seconds
        allocation_budget=ipam.allocation_budget() + 1.0,
        not_ready_needs_node_gone=args.not_ready_requires_node_gone,
    )
    return collecting.Options(
        knobs=knobs,
        dry_run=args.dry_run,
        page_size=args.page_size,
        event_namespace=args.event_namespace,
        state_namespace=args.state_namespace or _own_namespace(),
        state_name=args.state_name,
    )


def _own_namespace() -> str:
    try:
        with open(SA_NAMESPACE) as f:
            return f.read().strip() or "kube-system"
    except OSError:
        return "kube-system"


def lock_dir() -> str:
    """The Store's lock directory: the GC runs on no node, so its own; the CAS serialises it against
    nodes.

    The CronJob's root file system is read-only: without a writable /tmp, /dev/shm.
    """
    try:
        return tempfile.mkdtemp(prefix="spidernet-gc-")
    except OSError:
        return tempfile.mkdtemp(prefix="spidernet-gc-", dir="/dev/shm")


class Throttled:
    """Progress lines on long passes only: none in the first seconds, then one every few seconds."""

    def __init__(self, err: TextIO, every: float = 2.0) -> None:
        self.err, self.every = err, every
        self.last = time.monotonic()

    def __call__(self, line: str) -> None:
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            print(f"gc: {line}", file=self.err, flush=True)


def run_pass(
    transport: Transport,
    opts: collecting.Options,
    *,
    lock_dir: str,
    progress: collecting.Progress,
    tls: provisioning.Settings | None = None,
) -> Report:
    """One pass: release zombies and keep the pool finalizers (collecting), keep the admission
    webhook's TLS (``tls``: docs/install.md), bring the SpiderMultusConfigs' NADs in line
    (docs/cli.md: the CronJob is what turns a CR applied with kubectl into its NAD); then
    publish the pools' usage for the installers' gauges (publishing)."""
    report = _collect_and_reconcile(transport, opts, lock_dir=lock_dir, progress=progress, tls=tls)
    if not opts.dry_run:
        publishing.publish(transport, report, opts.state_namespace)
    return report


def _collect_and_reconcile(
    transport: Transport,
    opts: collecting.Options,
    *,
    lock_dir: str,
    progress: collecting.Progress,
    tls: provisioning.Settings | None,
) -> Report:
    report = Report(started="", dry_run=opts.dry_run)
    try:
        report = collecting.run(transport, opts, lock_dir=lock_dir, progress=progress)
    except kerr.ApiError as e:  # not expected: every step reports its own; never a traceback
        report.error("pass", str(e))
    if tls is not None:
        _webhook_tls(transport, tls, report, opts.dry_run)
    try:
        outcomes = reconciling.run(transport, dry_run=opts.dry_run)
    except kerr.ApiError as e:
        report.error(
            "SpiderMultusConfigs", f"{e}: no NetworkAttachmentDefinition written in this pass"
        )
        return report
    for o in outcomes:
        if o.action == reconciling.ERROR:
            report.error(f"SpiderMultusConfig/{o.smc}", o.detail)
        elif o.action != reconciling.UNCHANGED:
            report.networks.append(o.to_json())
    return report


def _webhook_tls(
    transport: Transport, tls: provisioning.Settings, report: Report, dry_run: bool
) -> None:
    try:
        report.webhook_tls = [
            o.to_json() for o in provisioning.run(transport, tls, dry_run=dry_run)
        ]
    except (kerr.ApiError, certs.CertError) as e:
        report.error(f"Secret/{tls.namespace}/{tls.secret}", f"webhook TLS not kept: {e}")


def tls_settings(args: argparse.Namespace) -> provisioning.Settings | None:
    if args.webhook_tls == "off":
        return None
    return provisioning.Settings(
        namespace=args.webhook_namespace or _own_namespace(),
        service=args.webhook_service,
        extra_ips=tuple(args.webhook_ip or ()),
    )


def one_pass(args: argparse.Namespace, out: TextIO, err: TextIO) -> Report:
    from spidernet.k8s.official import OfficialClient  # imports kubernetes (~0.4 s): only here

    try:
        opts = options(args)
    except BadInput as e:
        report = Report(started="", dry_run=args.dry_run)
        report.error(
            f"cluster IPAM config {args.ipam_config}", f"invalid config: {e}: nothing was judged"
        )
        print(report.dumps(), file=out, flush=True)
        print(report.summary(), file=err, flush=True)
        return report
    locks = lock_dir()
    report = Report(started="", dry_run=opts.dry_run)
    try:
        transport = OfficialClient.connect(
            args.kubeconfig, Deadline(args.timeout), retry_for=args.retry_for
        )
    except (
        Exception
    ) as e:  # the kubernetes package raises its own ConfigException, and OSError, ValueError...
        report.error(f"kubeconfig {args.kubeconfig or '(default)'}", f"{type(e).__name__}: {e}")
    else:
        try:
            report = run_pass(
                transport, opts, lock_dir=locks, progress=Throttled(err), tls=tls_settings(args)
            )
        finally:
            transport.close()
    shutil.rmtree(locks, ignore_errors=True)
    print(report.dumps(), file=out, flush=True)
    print(report.summary(), file=err, flush=True)
    return report


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    args = parser().parse_args(argv)
    if args.interval is None:
        return 0 if one_pass(args, out, err).ok else 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ok = True
    while not stop.is_set():
        started = time.monotonic()
        ok = one_pass(args, out, err).ok
        stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
