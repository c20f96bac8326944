"""How a pool's cost grows with its records, and where the API stops it. Does I/O.

    python -m tools.bench.pool_scale [--records 1,1000,5000,10000,12000,14000,16000,20000,30000]
        [--repeats 21] [--cas-seconds 5] [--no-limits] [--json FILE] [--plot FILE.png]

Starts its own etcd + kube-apiserver (the suite's, as every benchmark starts them:
tools/testbed/controlplane.py, every limit at its default), installs our CRDs and
writes one SpiderIPPool in upstream's format (``status.allocatedIPs`` a JSON string
of ``{"<ip>": {"pod": "<ns>/<name>", "podUid": "<uid>"}}``, pod names shaped as a
Deployment's) with each ``--records`` count in turn. Per count:

  body        bytes of the status PUT as the plugin encodes it (compact JSON)
  stored      bytes of the object in etcd (read back from etcd: what its limit counts)
  GET, PUT    ms, median and p90 of ``--repeats``: a GET with its JSON decoded; a PUT
              carrying the resourceVersion it read (a compare-and-swap), one record changed
  parse       ms of CPU to turn the decoded object into the plugin's Pool (every read pays it)
  CAS/s       one writer, serial GET + change one record + PUT over one kept connection,
              for ``--cas-seconds``; with the kube-apiserver's and etcd's CPU per CAS, and
              as a ratio to the first count's (1 record by default: the floor of this run)
A count whose PUT is refused prints the answer (status and message) instead; the counts
go on past it, since each limit answers differently.

Then (unless ``--no-limits``) each limit found to the byte: PUT bodies of an exact size
(one record's pod name padded) are bisected between an accepted size and each kind of
refusal, printing the largest body each stage takes and what the next byte gets.
docs/ipam.md, "Pool size ceiling", has the figures and what the plugin does with them.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spidernet.alloc import ceiling
from spidernet.alloc.pools import Pool
from tools.bench import figures, measure
from tools.testbed.apiclient import ApiClient
from tools.testbed.cluster import GROUP, Cluster
from tools.testbed.controlplane import ControlPlane

NAME = "scale"
PATH = f"{GROUP}/spiderippools/{NAME}"
COUNTS = (1, 1000, 5000, 10000, 12000, 14000, 16000, 20000, 30000)
PREFIX = 10 << 24 | 64 << 16  # 10.64.0.0/10: room for four million records


def ip_of(i: int) -> str:
    v = PREFIX + 1 + i
    return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


def records(n: int) -> dict[str, dict[str, str]]:
    """``n`` records of pods of 40 Deployments, UIDs shaped as the API's."""
    return {
        ip_of(i): {
            "pod": f"bench/web-{i % 40}-5f7c9d8b6d-{i:05x}",
            "podUid": f"{i:08x}-6b1e-4c2a-9d3f-{i * 7919 % 16**12:012x}",
        }
        for i in range(n)
    }


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def with_records(obj: dict[str, Any], held: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with ``held`` as its status, as the plugin writes it (Store._put_status)."""
    status = {
        "allocatedIPs": json.dumps(held, separators=(",", ":")),
        "allocatedIPCount": len(held),
        "totalIPCount": 4194302,
    }
    return {**obj, "status": status}


# ------------------------------------------------------------------ one pool size


@dataclass
class Row:
    records: int
    body: int = 0
    stored: int = 0
    get_ms: tuple[float, float] = (0.0, 0.0)  # median, p90
    put_ms: tuple[float, float] = (0.0, 0.0)
    parse_ms: float = 0.0
    cas_per_s: float = 0.0
    server_ms_per_cas: float = 0.0
    refused: str = ""  # "<status> <message>" when the pool's first PUT was refused


def spread(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), figures.percentile(samples, 90)


class Bench:
    def __init__(self, cp: ControlPlane, api: ApiClient) -> None:
        self.cp, self.api = cp, api
        self.cpu = measure.ServerCpu(cp.pids())

    def get(self) -> dict[str, Any]:
        status, reply = self.api.request("GET", PATH)
        if status != 200:
            raise RuntimeError(f"GET {PATH}: {status} {reply}")
        return dict(reply)

    def put(self, body: bytes) -> tuple[int, Any]:
        return self.api.request("PUT", f"{PATH}/status", body)

    def stored(self) -> int:
        """The object's bytes in etcd, read through etcd's JSON gateway (v3 range)."""
        key = f"/registry/spiderpool.spidernet.io/spiderippools/{NAME}".encode()
        request = urllib.request.Request(
            f"{self.cp._etcd_url}/v3/kv/range",  # the control plane's own etcd
            data=json.dumps({"key": base64.b64encode(key).decode()}).encode(),
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            kvs = json.load(reply).get("kvs") or []
        return len(base64.b64decode(kvs[0]["value"])) if kvs else 0

    def cas(self, n: int, flip: int) -> float:
        """One compare-and-swap changing one record; returns the PUT's ms."""
        obj = self.get()
        held = json.loads(obj["status"]["allocatedIPs"])
        ip = ip_of(flip % n)
        held[ip] = {**held[ip], "pod": held[ip]["pod"][:-1] + "xy"[flip % 2]}
        body = encode(with_records(obj, held))
        started = time.perf_counter()
        status, reply = self.put(body)
        took = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"PUT {PATH}/status: {status} {reply}")
        return took

    def row(self, n: int, repeats: int, cas_seconds: float) -> Row:
        body = encode(with_records(self.get(), records(n)))
        row = Row(n, body=len(body))
        status, reply = self.put(body)
        if status != 200:
            row.refused = f"{status} {reply.get('message') if isinstance(reply, dict) else reply}"
            return row
        row.stored = self.stored()
        row.get_ms = spread([timed(self.get) for _ in range(repeats)])
        row.put_ms = spread([self.cas(n, i) for i in range(repeats)])
        obj = self.get()
        row.parse_ms = statistics.median(cpu_ms(lambda: Pool.parse(obj)) for _ in range(5))
        row.cas_per_s, row.server_ms_per_cas = self.cas_rate(n, cas_seconds)
        return row

    def cas_rate(self, n: int, seconds: float) -> tuple[float, float]:
        before, started, done = self.cpu.read(), time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            self.cas(n, done)
            done += 1
        elapsed, after = time.perf_counter() - started, self.cpu.read()
        server = sum(after.values()) - sum(before.values())
        return done / elapsed, server * 1000 / done


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def cpu_ms(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1000


# ------------------------------------------------------------------ the limits, to the byte


@dataclass
class Limit:
    largest: int  # bytes of the largest body this stage takes
    answer: str  # what one byte more gets: "<status> <message>"


class Sizer:
    """PUT bodies of an exact size: records, then one record's pod name padded."""

    PER = 110  # about a record's bytes; the pad absorbs the rest

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.base = bench.get()
        self.base.pop("status", None)
        self.base["metadata"].pop("managedFields", None)

    def body(self, size: int) -> bytes:
        n = max(0, (size - len(encode(with_records(self.base, {})))) // self.PER - 2)
        while True:
            held = {**records(n), "10.127.255.254": {"pod": "bench/pad-", "podUid": "pad"}}
            short = len(encode(with_records(self.base, held)))
            if short <= size:
                break
            n -= (short - size) // 100 + 1  # records grew longer than PER: fewer of them
        held["10.127.255.254"]["pod"] += "p" * (size - short)
        body = encode(with_records(self.base, held))
        assert len(body) == size, (len(body), size)
        return body

    def answer(self, size: int) -> tuple[str, str]:
        """(kind, "<status> <message>") of a PUT of ``size`` bytes; kind "ok" when stored."""
        self.base["metadata"]["resourceVersion"] = self.bench.get()["metadata"]["resourceVersion"]
        status, reply = self.bench.put(self.body(size))
        message = reply.get("message", "") if isinstance(reply, dict) else str(reply)
        if status == 200:
            return "ok", "200"
        return f"{status} {message.split(' (')[0].split(':')[0]}", f"{status} {message}"


def limits(bench: Bench, probes: tuple[int, ...]) -> list[Limit]:
    """Bisect to the byte between each pair of probe sizes whose answers differ."""
    sizer, found = Sizer(bench), []
    kinds = [(size, *sizer.answer(size)) for size in probes]
    for (lo, lo_kind, _), (hi, hi_kind, hi_text) in itertools.pairwise(kinds):
        if lo_kind == hi_kind:
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            kind, text = sizer.answer(mid)
            if kind == lo_kind:
                lo = mid
            else:
                hi, hi_text = mid, text
        found.append(Limit(lo, hi_text))
        print(f"  {lo:>10,} bytes: {lo_kind}; {hi:,}: {hi_text}", flush=True)
    return found


# ------------------------------------------------------------------ output


@dataclass
class Report:
    started: str
    machine: str
    load: list[float] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)


def header(report: Report) -> list[str]:
    return [
        f"pool scale, {report.started}, {report.machine}",
        "kube-apiserver 1.20.2 + etcd 3.4 (tools/testbed/controlplane.py, every limit at its "
        "default); one writer, one kept TLS connection",
        f"load average {report.load[0]:.1f} at the start"
        + (f", {report.load[-1]:.1f} at the end" if len(report.load) > 1 else ""),
    ]


def per_record(row: Row, first: Row) -> float:
    """Bytes a record adds to the body, over the first row's (NaN for the first)."""
    if row.records == first.records:
        return float("nan")
    return (row.body - first.body) / (row.records - first.records)


def table(rows: list[Row]) -> list[str]:
    head = (
        f"{'records':>8} {'body B':>10} {'stored B':>10} {'B/rec':>6} {'GET ms':>13} "
        f"{'PUT ms':>13} {'parse ms':>9} {'CAS/s':>7} {'x first':>7} {'server ms/CAS':>14}"
    )
    lines = [head, "-" * len(head)]
    first = rows[0].cas_per_s if rows and rows[0].cas_per_s else float("nan")
    for r in rows:
        if r.refused:
            lines.append(f"{r.records:>8,} {r.body:>10,}  refused: {r.refused}")
            continue
        lines.append(
            f"{r.records:>8,} {r.body:>10,} {r.stored:>10,} {per_record(r, rows[0]):>6.1f} "
            f"{r.get_ms[0]:>6.1f}/{r.get_ms[1]:<6.1f} {r.put_ms[0]:>6.1f}/{r.put_ms[1]:<6.1f} "
            f"{r.parse_ms:>9.1f} {r.cas_per_s:>7.1f} {r.cas_per_s / first:>7.2f} "
            f"{r.server_ms_per_cas:>14.1f}"
        )
    return lines + [
        "(GET and PUT: median/p90 ms; B/rec: bytes a record adds, over the first row; "
        "x first: CAS/s over the first row's)"
    ]


def plot(report: Report, path: Path) -> Path:
    """GET/PUT ms and CAS/s against records; the limits and the plugin's default ceiling
    as vertical lines, at the records of the usual shape that reach them."""
    from tools.bench import plots

    plt = plots.pyplot()
    rows = [r for r in report.rows if not r.refused]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=80)
    xs = [r.records for r in rows]
    left.plot(xs, [r.get_ms[0] for r in rows], "o-", label="GET ms (median)")
    left.plot(xs, [r.put_ms[0] for r in rows], "s-", label="PUT ms (median)")
    left.plot(xs, [r.server_ms_per_cas for r in rows], "^-", label="server CPU ms per CAS")
    right.plot(xs, [r.cas_per_s for r in rows], "o-", label="CAS/s, one writer")
    per = statistics.median(per_record(r, rows[0]) for r in rows[1:]) if rows[1:] else 112.0
    lines = [(ceiling.DEFAULT, "ceiling (default)", "tab:red")]
    lines += [
        (limit.largest, f"{limit.answer[:3]} past {limit.largest / 2**20:.2f} MiB", "grey")
        for limit in report.limits
    ]
    for ax in (left, right):
        for size, label, colour in lines:
            ax.axvline(size / per, color=colour, linestyle=":")
            ax.text(
                size / per,
                0.98,
                " " + label,
                transform=ax.get_xaxis_transform(),
                rotation=90,
                va="top",
                fontsize=6,
                color=colour,
            )
        ax.set_xlabel("records in the pool")
        ax.legend(fontsize=7, loc="center right")
    left.set_ylim(bottom=0)
    right.set_yscale("log")
    return plots.save(fig, header(report)[0], path)


def machine() -> str:
    cpus = os.cpu_count() or 0
    return f"{os.uname().nodename}: {cpus} CPUs, kernel {os.uname().release}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--records", default=",".join(map(str, COUNTS)))
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--cas-seconds", type=float, default=5.0)
    ap.add_argument("--no-limits", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = Report(started, machine(), [os.getloadavg()[0]])
    with ControlPlane() as cp:
        Cluster(cp).install_crds()
        Cluster(cp).pool(NAME, "10.64.0.0/10", ["10.64.0.1-10.127.255.254"])
        bench = Bench(cp, cp.client(keep_alive=True, timeout=120))
        for n in (int(x) for x in args.records.split(",")):
            print(f"pool_scale: {n:,} records ...", file=sys.stderr, flush=True)
            report.rows.append(bench.row(n, args.repeats, args.cas_seconds))
        if not args.no_limits:
            print("pool_scale: limits, bisected to the byte ...", file=sys.stderr, flush=True)
            mib = 1 << 20
            report.limits = limits(bench, (mib, mib * 7 // 4, mib * 5 // 2, mib * 7 // 2))
        bench.api.close()
    report.load.append(os.getloadavg()[0])
    print("\n".join(header(report) + [""] + table(report.rows)))
    for limit in report.limits:
        print(f"largest body taken {limit.largest:,} bytes; one byte more: {limit.answer}")
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=1))
    if args.plot:
        print(f"plot: {plot(report, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
