"""What a large pool's JSON costs an IPAM exec: decode, parse, encode. No I/O but stdout.

A pool's ``status.allocatedIPs`` holds one record per address in use; every ADD and DEL
reads the pool (decode the reply, ``Pool.parse`` its records) and writes it back
(``records_json`` and the PUT's body). This builds a pool of ``--records`` records as
the API server would send it and prints, per stage, the CPU of one pass (the median of
``--repeats`` passes):

    python -m tools.bench.pool_json --records 1000

``--stage STAGE`` runs that stage once and exits, for an instruction count of it
(docs/performance.md, "The pool's JSON"): count ``--stage setup`` too and subtract.

    valgrind --tool=callgrind python3.11 -S -m tools.bench.pool_json --stage parse
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from spidernet.alloc.pools import Pool, records_json

STAGES = ("setup", "decode", "parse", "encode")


def pool_body(records: int) -> str:
    """A pool of a /16 with ``records`` addresses held, as the API server's reply body."""
    held = {
        f"10.0.{i // 256}.{i % 256}": {
            "pod": f"ns/pod-{i}",
            "podUid": f"{i:08d}-aaaa-bbbb-cccc-{i:012d}",
        }
        for i in range(1, records + 1)
    }
    obj = {
        "metadata": {"name": "big", "resourceVersion": "1"},
        "spec": {"ipVersion": 4, "subnet": "10.0.0.0/16", "ips": ["10.0.0.1-10.0.255.254"]},
        "status": {"allocatedIPs": json.dumps(held, separators=(",", ":"))},
    }
    return json.dumps(obj)


def run(stage: str, body: str) -> None:
    """One pass up to ``stage``: each stage includes the ones before it."""
    if stage == "setup":
        return
    obj = json.loads(body)
    if stage == "decode":
        return
    pool = Pool.parse(obj)
    if stage == "parse":
        return
    status = {**obj["status"], "allocatedIPs": records_json(dict(pool.records))}
    json.dumps({**obj, "status": status})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--stage", choices=STAGES)
    args = ap.parse_args(argv)
    body = pool_body(args.records)
    if args.stage:
        run(args.stage, body)
        return 0
    print(f"pool of {args.records} records, {len(body)} bytes; CPU ms per pass, median")
    previous = 0.0
    for stage in STAGES[1:]:
        samples = []
        for _ in range(args.repeats):
            started = time.process_time()
            run(stage, body)
            samples.append((time.process_time() - started) * 1000)
        total = statistics.median(samples)
        print(f"  {stage:<7} {total - previous:7.2f}  (up to here {total:.2f})")
        previous = total
    return 0


if __name__ == "__main__":
    sys.exit(main())
