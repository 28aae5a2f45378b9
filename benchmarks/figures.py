"""Figures of the benchmarks: each benchmark records what it measured with its
target, `benchmarks/run` prints them all as ONE table and fails on a miss.

    figures = Figures("probe_vs_wrk")
    figures.add("probe / wrk throughput", 0.91, "x", ">=", 0.8)
    figures.write(args.json)          # JSON lines, read by table()

Standard library only: the plain baselines import nothing of the project, and
neither does this file.
"""
from __future__ import annotations

import json
import operator
import sys
from pathlib import Path

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


class Figures:
    def __init__(self, bench):
        self.bench = bench
        self.rows = []

    def add(self, figure, value, unit="", op=None, target=None, note=""):
        """A figure; with op/target it passes or fails, without it is information."""
        ok = None if op is None else bool(value is not None and OPS[op](value, target))
        self.rows.append(dict(bench=self.bench, figure=figure, value=value, unit=unit,
                              target=None if op is None else f"{op} {target:g}{(' ' + unit) if unit else ''}",
                              ok=ok, note=note))
        return ok

    def fail(self, figure, why):
        """A figure that could not be measured: a failure, with the reason."""
        print(f"FAIL {figure}: {why}", flush=True)
        self.rows.append(dict(bench=self.bench, figure=figure, value=None, unit="", target="measured", ok=False,
                              note=why))

    def write(self, path):
        if path:
            with open(path, "a") as fh:
                for row in self.rows:
                    fh.write(json.dumps(row) + "\n")

    @property
    def ok(self):
        return all(r["ok"] is not False for r in self.rows)


def _value(row):
    v = row["value"]
    if v is None:
        return "-"
    text = f"{v:.2f}" if isinstance(v, float) else str(v)
    return f"{text} {row['unit']}".strip()


def _short(text, width=80):
    return text if len(text) <= width else text[:width - 3] + "..."


def table(paths, expected=()):
    """Print one table of every figure in the JSON-lines files; a benchmark in
    `expected` that wrote nothing is a failure. Returns the exit code."""
    rows = []
    for p in paths:
        p = Path(p)
        if p.exists():
            rows += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    seen = {r["bench"] for r in rows}
    for bench in expected:
        if bench not in seen:
            rows.append(dict(bench=bench, figure="(benchmark)", value=None, unit="", target="runs", ok=False,
                             note="did not run to the end: see its log"))
    head = ("benchmark", "figure", "value", "target", "result")
    body = [(r["bench"], _short(r["figure"]), _value(r), r["target"] or "-",
             "info" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL") + (f" ({r['note']})" if r.get("note") and not r["ok"] else ""))
            for r in rows]
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(4)]
    line = lambda x: "  ".join(str(x[i]).ljust(widths[i]) for i in range(4)) + "  " + str(x[4])  # noqa: E731
    print(line(head))
    print("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    for x in body:
        print(line(x))
    failed = [r for r in rows if r["ok"] is False]
    print(f"\n{len(rows)} figures, {sum(1 for r in rows if r['ok'])} pass, {len(failed)} fail, "
          f"{sum(1 for r in rows if r['ok'] is None)} information")
    return 1 if failed else 0


if __name__ == "__main__":
    # figures.py --expect a,b,c file.jsonl ...
    args = sys.argv[1:]
    expect = []
    if args[:1] == ["--expect"]:
        expect, args = args[1].split(","), args[2:]
    sys.exit(table(args, expect))
