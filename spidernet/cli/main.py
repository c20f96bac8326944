"""The ``spiderpoolctl`` command line: flags, sub-commands, exit codes. Does I/O (wiring only).

    spiderpoolctl [--kubeconfig F] [--context C] [--request-timeout S] COMMAND ...

    pools [-l SELECTOR] [-o wide|json|yaml]       pools with their usage
    ip show IP [-o json|yaml]                     who holds an address
    ip list [--pod NS/NAME | --node N | --pool P] [-o wide|json|yaml]
    ip release IP [--force] [--pool P]            free an address (never a live pod's)
    gc [--dry-run] [GC knobs] [-o json|yaml]      one pass of the GC CronJob's code
    validate FILE...|- [-o json|yaml]             the admission rules, offline
    multus render FILE...|- [-o json|yaml|config] SpiderMultusConfig -> NAD, offline
    multus apply FILE...|- [-n NAMESPACE]         store the CRs, write their NADs now
    completion bash|zsh                           shell completion

Installed as ``kubectl-spiderpool`` too, so ``kubectl spiderpool pools`` works. Global
flags go before or after the command, as with kubectl. Exit codes: ``failures``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from spidernet.cli import completion, failures
from spidernet.cli.console import Console

Run = Callable[[argparse.Namespace, Console], int]


class _Parser(argparse.ArgumentParser):
    """argparse that raises a usage failure (exit 2, one line) instead of exiting itself."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise failures.Usage(f"{message} (see {self.prog} --help)")


def _run(module: str, function: str) -> Run:
    """Import a command's module only when it runs (``validate`` never loads kubernetes)."""

    def run(args: argparse.Namespace, console: Console) -> int:
        import importlib

        code: int = getattr(importlib.import_module(f"spidernet.cli.{module}"), function)(
            args, console
        )
        return code

    return run


def _seconds(text: str) -> float:
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: want seconds > 0")
    return value


def _pod(text: str) -> str:
    ns, sep, name = text.partition("/")
    if not sep or not ns or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: want NAMESPACE/NAME")
    return text


def _global(suppress: bool) -> _Parser:
    """The flags every command takes; inside a command their defaults are left to the root."""
    ap = _Parser(add_help=False)
    default = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    ap.add_argument(
        "--kubeconfig",
        default=default(None),
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)",
    )
    ap.add_argument(
        "--context",
        default=default(None),
        help="the kubeconfig context to use (default: its current-context)",
    )
    ap.add_argument(
        "--request-timeout",
        type=_seconds,
        default=default(10.0),
        metavar="S",
        help="how long one API request may take, retries included (default 10)",
    )
    return ap


def _output(ap: argparse.ArgumentParser, choices: Sequence[str], help_: str) -> None:
    ap.add_argument("-o", "--output", choices=choices, default=None, help=help_)


def parser(prog: str = "spiderpoolctl") -> argparse.ArgumentParser:
    ap = _Parser(
        prog=prog,
        parents=[_global(False)],
        description="See, check and fix spidernet's IP pools (docs/cli.md).",
        epilog=(
            "Exit codes: 0 done, 1 refused/invalid, 2 usage, 3 not found, 4 kubeconfig, 5 API "
            "unreachable, 6 API refused us."
        ),
    )
    subs = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = [_global(True)]

    pools = subs.add_parser(
        "pools",
        parents=common,
        help="pools with their usage",
        description=(
            "SpiderIPPools with ALLOCATED, TOTAL, FREE and COOLING counted from their records."
        ),
    )
    pools.add_argument("-l", "--selector", help="label selector, e.g. -l zone=west")
    _output(
        pools, ("wide", "json", "yaml"), "wide: gateway and affinities too; json|yaml: for scripts"
    )
    pools.set_defaults(run=_run("showing", "pools"))

    _ip(
        subs.add_parser(
            "ip",
            help="who holds an address; release one",
            description="Addresses: show, list, release.",
        ),
        common,
    )
    _gc(
        subs.add_parser(
            "gc",
            parents=common,
            help="one pass of the GC CronJob",
            description=(
                "One pass of the IP garbage collector, the CronJob's own code and memory "
                "(docs/gc.md)."
            ),
        )
    )

    validate = subs.add_parser(
        "validate",
        parents=common,
        help="check pool, reserved-IP and multus YAML offline",
        description=(
            "Check SpiderIPPools, SpiderReservedIPs and SpiderMultusConfigs with the admission "
            "rules, and the pools against each other; no cluster needed."
        ),
    )
    validate.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML or JSON files; - reads stdin"
    )
    _output(validate, ("json", "yaml"), "the verdicts for scripts")
    validate.set_defaults(run=_run("validating", "validate"))

    _multus(
        subs.add_parser(
            "multus",
            help="SpiderMultusConfig -> NetworkAttachmentDefinition",
            description="Render or apply SpiderMultusConfigs.",
        ),
        common,
    )

    comp = subs.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script: source <(spiderpoolctl completion bash)",
    )
    comp.add_argument("shell", choices=("bash", "zsh"))
    comp.set_defaults(run=_completion)
    return ap


def _ip(ip: argparse.ArgumentParser, common: list[_Parser]) -> None:
    subs = ip.add_subparsers(
        dest="ip_command", metavar="COMMAND", parser_class=_Parser, required=True
    )
    show = subs.add_parser(
        "show",
        parents=common,
        help="who holds IP",
        description=(
            "The pool, pod, pod UID, node, container, interface and SpiderEndpoint of an address, "
            "since when, and whether the pod is alive."
        ),
    )
    show.add_argument("ip", metavar="IP")
    _output(show, ("json", "yaml"), "for scripts")
    show.set_defaults(run=_run("showing", "ip_show"))

    listing = subs.add_parser(
        "list",
        parents=common,
        help="addresses of a pod, node or pool",
        description="Allocated addresses, of one pod, node or pool (default: all).",
    )
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--pod", type=_pod, metavar="NS/NAME")
    which.add_argument("--node", metavar="NODE")
    which.add_argument("--pool", metavar="POOL")
    _output(listing, ("wide", "json", "yaml"), "wide: pod UID, container, endpoint too")
    listing.set_defaults(run=_run("showing", "ip_list"))

    release = subs.add_parser(
        "release",
        parents=common,
        help="free an address whose pod is gone",
        description=(
            "Release an address by the IPAM's compare-and-swap on the pod UID. Refused while its "
            "pod is alive with that UID."
        ),
    )
    release.add_argument("ip", metavar="IP")
    release.add_argument(
        "--force",
        action="store_true",
        help=(
            "also while the pod terminates, the address cools down, or a StatefulSet keeps it "
            "(never while the pod is alive)"
        ),
    )
    release.add_argument(
        "--pool", metavar="POOL", help="the pool, when the address is recorded in two"
    )
    _output(release, ("json", "yaml"), "what was released, for scripts")
    release.set_defaults(run=_run("releasing", "ip_release"))


def _gc(gc: argparse.ArgumentParser) -> None:
    from spidernet.gc import command

    command.add_pass_options(gc)
    _output(gc, ("json", "yaml"), "the CronJob's JSON report (docs/gc.md)")
    gc.set_defaults(run=_run("collecting", "gc"))


def _multus(multus: argparse.ArgumentParser, common: list[_Parser]) -> None:
    subs = multus.add_subparsers(
        dest="multus_command", metavar="COMMAND", parser_class=_Parser, required=True
    )
    render = subs.add_parser(
        "render",
        parents=common,
        help="print the NAD of each SpiderMultusConfig (offline)",
        description=(
            "Print the NetworkAttachmentDefinition each SpiderMultusConfig of the files renders to."
        ),
    )
    render.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML or JSON files; - reads stdin"
    )
    render.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json", "config"),
        default="yaml",
        help="config: the CNI config string alone",
    )
    render.set_defaults(run=_run("networking", "render"))

    apply = subs.add_parser(
        "apply",
        parents=common,
        help="store SpiderMultusConfigs and write their NADs now",
        description=(
            "Create or update each SpiderMultusConfig, then write its NetworkAttachmentDefinition "
            "at once (the GC CronJob would within a minute)."
        ),
    )
    apply.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON files; - reads stdin")
    apply.add_argument(
        "-n", "--namespace", default="default", help="for CRs that name none (default: default)"
    )
    apply.set_defaults(run=_run("networking", "apply"), output=None)


def _completion(args: argparse.Namespace, console: Console) -> int:
    ap = parser()
    console.line(completion.bash(ap) if args.shell == "bash" else completion.zsh(ap))
    return failures.OK


def prog_name(argv0: str) -> str:
    """``kubectl spiderpool`` when run as the kubectl plugin, as kubectl's own messages read."""
    return (
        "kubectl spiderpool" if os.path.basename(argv0).startswith("kubectl-") else "spiderpoolctl"
    )


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    console = console or Console(sys.stdout, sys.stderr)
    ap = parser(prog_name(sys.argv[0]))
    try:
        args = ap.parse_args(argv)
        if not getattr(args, "run", None):
            ap.print_help(console.err)
            return failures.USAGE
        code: int = args.run(args, console)
        return code
    except failures.Failure as e:
        console.error(e.message)
        return e.code
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except BrokenPipeError:  # stdout closed early (piped into head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else failures.OK
