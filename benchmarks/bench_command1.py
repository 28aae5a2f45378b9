#!/usr/bin/env python3
"""README command 1 on a fresh clone (issue 21, goal 1: <= 5 min on 2 cores), and
the last `.ci/run` on this machine (goal 2: <= 60 min).

A fresh clone of HEAD (committed work only) in a temporary directory: its own
.venv, node_modules and facilitator wheels, as a new user's. The package indexes
are reachable only from the host's network, a stack of its own only inside its
namespace (stack/isolated), so the command runs in two parts:
  1. on the host: ./bootstrap.sh and facilitator/build-wheels.sh (everything that
     downloads);
  2. in `stack/isolated cmd1`: ./rehearse (bootstrap again, a no-op by then; the
     stack with its own Docker daemon; the rehearsal), which prints its own table.
The figure is the sum. The host's caches (apt packages, pip and npm caches, the
debootstrap tarball) are warm, as on any machine that ran the project before;
the clone's own files are not.

The last .ci/run's times come from the file it writes
(${XDG_CACHE_HOME:-~/.cache}/facilitator-ops/ci-times.json); none there is a failed figure.

    .venv/bin/python benchmarks/bench_command1.py [--json FILE] [--keep]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from figures import Figures  # noqa: E402

TARGET_COMMAND1 = 300
TARGET_CI = 3600
NAME = "cmd1"
CI_TIMES = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facilitator-ops" / "ci-times.json"


def timed(cmd, cwd, log, env=None):
    t = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    return rc, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="append the figures (JSON lines) to this file (benchmarks/run)")
    ap.add_argument("--keep", action="store_true", help="leave the clone and its stack")
    args = ap.parse_args()
    figs = Figures("bench_command1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-command1-"))
    clone = tmp / "facilitator-ops"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACILITATOR_OPS_", "ANSIBLE_", "DOCKER_HOST"))}
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        rc, host = timed(["bash", "-c", "./bootstrap.sh && facilitator/build-wheels.sh"], clone, tmp / "host.log", env)
        if rc != 0:
            figs.fail("README command 1", f"bootstrap on the host failed, see {tmp / 'host.log'}")
            return 1
        rc, inside = timed([str(clone / "stack/isolated"), NAME, "./rehearse"], clone, tmp / "rehearse.log", env)
        print((tmp / "rehearse.log").read_text()[-2500:])
        total = host + inside
        print(f"README command 1 on a fresh clone: {total:.1f} s (host part {host:.1f} s, isolated part {inside:.1f} s)")
        if rc != 0:
            figs.fail("README command 1", f"./rehearse failed (rc={rc}), see {tmp / 'rehearse.log'}")
        figs.add("README command 1, fresh clone" + ("" if rc == 0 else " (FAILED run)"), round(total, 1), "s",
                 "<=", TARGET_COMMAND1)
        figs.add("  of which bootstrap + wheels (host)", round(host, 1), "s")
        if CI_TIMES.exists():
            ci = json.loads(CI_TIMES.read_text())
            when = datetime.datetime.fromtimestamp(ci["ended"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            figs.add(f".ci/run total (last run on this machine, {when}, rc={ci['rc']})", ci["total"], "s",
                     "<=", TARGET_CI)
            for step in ("command1", "rotation", "command2"):
                if step in ci:
                    figs.add(f"  .ci/run {step}", ci[step], "s")
        else:
            figs.fail(".ci/run total", f"no {CI_TIMES}: run .ci/run on this machine first")
    finally:
        figs.write(args.json)
        if not args.keep:
            subprocess.run([str(REPO / "stack/isolated"), NAME, "--down"], capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if figs.ok else 1


if __name__ == "__main__":
    sys.exit(main())
