#!/usr/bin/env python3
"""Wall time of the whole rehearsal (rehearsal.yml on the local inventory), with
its slowest steps (plays) and tasks, read from when each header was printed.

Runs against the stack it is started on (benchmarks/run starts it inside a
stack of its own: the rehearsal deploys and cuts over, it moves the world).
Target: the whole rehearsal within 15 minutes on 2 cores.

    .venv/bin/python benchmarks/bench_rehearsal.py [--json FILE] [-e key=value ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from figures import Figures  # noqa: E402
from helpers.playbook import run_playbook  # noqa: E402

TARGET_SECONDS = 900


def durations(stamps, prefix, end):
    """(seconds, name) of each header starting with `prefix`, until the next one (or `end`)."""
    heads = [(t, line[len(prefix):].split("]")[0].strip()) for t, line in stamps if line.startswith(prefix)]
    return sorted(((b[0] - a[0], a[1]) for a, b in zip(heads, heads[1:] + [(end, "")])), reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="append the figures (JSON lines) to this file (benchmarks/run)")
    ap.add_argument("-e", dest="extra", action="append", default=[], help="extra variable key=value")
    args = ap.parse_args()
    figs = Figures("bench_rehearsal")
    tmp = Path(tempfile.mkdtemp(prefix="bench-rehearsal-"))
    extra = dict(kv.split("=", 1) for kv in args.extra)
    run = run_playbook("rehearsal.yml", tmp, extra_vars=extra or None, verbosity=None, stamped=True, timeout=3600)
    total = run.stamps[-1][0] if run.stamps else 0.0
    (tmp / "rehearsal.log").write_text(run.output)
    if run.rc != 0:
        figs.fail("rehearsal", f"rc={run.rc}, see {tmp / 'rehearsal.log'}")
    figs.add("rehearsal.yml wall time" + ("" if run.rc == 0 else " (FAILED run)"), round(total, 1), "s", "<=",
             TARGET_SECONDS)
    plays = durations(run.stamps, "PLAY [", total)
    tasks = durations(run.stamps, "TASK [", total)
    for seconds, name in plays[:3]:
        figs.add(f"slowest step: {name}", round(seconds, 1), "s")
    for seconds, name in tasks[:3]:
        figs.add(f"slowest task: {name}", round(seconds, 1), "s")
    print(f"rehearsal.yml rc={run.rc} in {total:.1f} s (target <= {TARGET_SECONDS} s); log {tmp / 'rehearsal.log'}")
    print("steps:")
    for seconds, name in sorted(plays, key=lambda p: -p[0]):
        print(f"  {seconds:7.1f} s  {name}")
    print("slowest tasks:")
    for seconds, name in tasks[:8]:
        print(f"  {seconds:7.1f} s  {name}")
    figs.write(args.json)
    return 0 if figs.ok else 1


if __name__ == "__main__":
    sys.exit(main())
