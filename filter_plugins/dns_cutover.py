# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""Filters of the dns_cutover role: the run's input, its bake schedule, where a
breach rolls back to, and the progress and breach lines. Pure functions of
their arguments (unit-tested in tests/unit/test_filters_dns_cutover.py); the
role passes them the settings and the registered results.
"""
from __future__ import annotations

import json
import math

BREAK_LOCK_MODES = {"no": "no", "false": "no", "yes": "yes", "true": "yes", "force": "force"}


def _int_or_none(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def dns_cutover_run(stage, stages, break_lock="no", bake_seconds=0, bake_interval_seconds=60):
    """The run's input, normalised and checked; nothing is read from AWS.
    Types and choices are the argument spec's; this checks what a spec cannot say.

    Returns stage (lower-case string), allowed (the configured stages as
    strings + finalize), finalize, target_weights ({} for finalize),
    break_lock (no | yes | force) and error: "" or ONE line naming every
    problem, ending in "(nothing was changed)". A stage that is not allowed
    is named first and alone (it is what the operator typed).
    """
    stage_s = ("" if stage is None else str(stage)).strip().lower()
    stages = list(stages or [])
    allowed = [str(s) for s in stages] + ["finalize"]
    out = dict(stage=stage_s, allowed=allowed, finalize=stage_s == "finalize", target_weights={},
               break_lock="no", error="")
    if stage_s not in allowed:
        out["error"] = (f"stage '{stage_s}' is not allowed: use -e stage=<one of {', '.join(allowed)}> "
                        "(nothing was changed)")
        return out
    problems = []
    ints = [_int_or_none(s) for s in stages]
    if not stages or any(i is None or not 0 <= i <= 100 for i in ints) or 0 not in ints:
        problems.append(f"dns_cutover_stages must be integers 0..100 and include 0, got {json.dumps(stages)}")
    mode = BREAK_LOCK_MODES.get(str(break_lock).strip().lower())
    if mode is None:
        problems.append(f"break_lock must be yes or force, got '{break_lock}'")
    elif mode == "force" and stage_s != "0":
        problems.append("break_lock=force is only for an emergency rollback (-e stage=0); an expired lock needs "
                        "break_lock=yes")
    try:
        timing_ok = int(float(bake_seconds)) >= 0 and float(bake_interval_seconds) > 0
    except (TypeError, ValueError):
        timing_ok = False
    if not timing_ok:
        problems.append("bake seconds must be >= 0 and the interval > 0")
    if problems:
        out["error"] = "; ".join(problems) + " (nothing was changed)"
        return out
    out["break_lock"] = mode
    if not out["finalize"]:
        new = int(stage_s)
        out["target_weights"] = {"old": 100 - new, "new": new}
    return out


def dns_cutover_record_name(record):
    """The record name as Route 53 spells it: lower case with a trailing dot. The cutover
    lock and its stage record are keyed by it, so `Facilitator.example.xyz` and
    `facilitator.example.xyz.` are one lock (issue 18)."""
    name = ("" if record is None else str(record)).strip().lower()
    return name if name.endswith(".") else name + "."


def dns_cutover_gate_read_error(message, phase):
    """A gate that cannot be read (CloudWatch, ELBv2 or Route 53 call failed) is a breach, never
    a pass: before the change it refuses the stage, during a bake it rolls back (issue 18)."""
    first = (str(message or "gate read failed").strip().splitlines() or ["gate read failed"])[0]
    return {"gate": "gate_read", "value": first, "threshold": "target health and metrics can be read",
            "text": f"gate_read {phase}: {first}"}


def dns_cutover_schedule(bake_seconds, interval_seconds, lock_margin_minutes):
    """The bake: reading interval (never longer than the bake), number of
    rounds (0 without a bake) and the lock TTL (bake + margin + 10 min for
    the change itself)."""
    bake = int(float(bake_seconds))
    interval = min(float(interval_seconds), max(float(bake), 1.0))
    rounds = 0 if bake == 0 else int(math.ceil(bake / interval))
    return dict(interval=interval, rounds=rounds, lock_ttl=bake + int(lock_margin_minutes) * 60 + 600)


def dns_cutover_wait_chunks(seconds, chunk=25):
    """A wait of `seconds` (rounded up to whole seconds) as consecutive waits of
    at most `chunk` seconds, so that a line is printed at least that often.
    Each: seconds (this wait) and left (seconds still to wait after it).
    60 -> 25 (35 left), 25 (10 left), 10 (0 left); 0 -> none."""
    total, chunk = int(math.ceil(float(seconds))), max(1, int(chunk))
    out, done = [], 0
    while done < total:
        step = min(chunk, total - done)
        done += step
        out.append({"seconds": step, "left": total - done})
    return out


def dns_cutover_bake_plan(dns_change, lock, stage, rounds, check_mode):
    """already_clean: this run changed nothing and a clean bake of this stage
    is on record; needed: this run must bake (never in check mode, at
    finalize, at stage 0, without rounds, or when already clean)."""
    changed = bool((dns_change or {}).get("changed", False))
    clean_stage = str(((lock or {}).get("state") or {}).get("clean_bake_stage", ""))
    already_clean = not changed and clean_stage == str(stage)
    needed = (not check_mode and str(stage) not in ("finalize", "0") and int(rounds) > 0 and not already_clean)
    return dict(already_clean=already_clean, needed=needed)


def dns_cutover_finalize_refusal(lock, stages):
    """"" when finalize may go ahead, else the one line refusing it: finalize needs a
    clean bake at the last stage on record (a finalize that already went through
    is a no-change re-run)."""
    state = (lock or {}).get("state") or {}
    last = str(max(int(s) for s in stages))
    if str(state.get("clean_bake_stage", "")) == last:
        return ""
    if state.get("last_stage") == "finalize" and state.get("last_result") in ("changed", "no change"):
        return ""
    clean = (f", clean bake at stage {state['clean_bake_stage']}" if "clean_bake_stage" in state
             else ", no clean bake")
    return (f"finalize needs a clean bake at stage {last} first (stage record: last stage "
            f"{state.get('last_stage', 'none')}, {state.get('last_result', 'no result')}{clean}); nothing was changed")


def dns_cutover_bake_clean(bake_plan, rounds, bake_seconds, finalize_min_bake_seconds):
    """This run leaves a clean bake of its stage on record: one was already on
    record, or this run baked (or needed no rounds) for at least the time
    finalize asks for."""
    if bake_plan.get("already_clean"):
        return True
    return bool((bake_plan.get("needed") or int(rounds) == 0)
                and int(float(bake_seconds)) >= int(float(finalize_min_bake_seconds)))


def _share(weights):
    total = weights["old"] + weights["new"]
    return 0.5 if total == 0 else weights["new"] / total


def dns_cutover_rollback_weights(dns_change, rollback_to, stages, stage):
    """Where a breach rolls back to: old 100 / new 0 with rollback_to=zero;
    otherwise the weights before this run's change, or, when this run changed
    nothing (or the record was simple before), the next lower stage.
    A breach always rolls toward the OLD side: when this run lowered the new
    side's share (100 -> 50, or stage 10 after finalize), the weights before it
    gave the failing new side MORE traffic, so it rolls to the next lower stage
    below this one (old 100 / new 0 below the lowest)."""
    if rollback_to == "zero":
        return {"old": 100, "new": 0}
    change = dns_change or {}
    before = (change.get("before") or {}).get("weights") or {}
    cur = _int_or_none(stage) or 0
    lower = max((i for i in (_int_or_none(s) for s in stages or []) if i is not None and i < cur), default=0)
    if (change.get("changed") and before.get("new") is not None and before.get("old") is not None
            and _share(before) < cur / 100.0):
        return dict(before)
    return {"old": 100 - lower, "new": lower}


def _breach_texts(breaches):
    return [b.get("text") or f"{b.get('gate')} = {b.get('value')} (threshold {b.get('threshold')})" for b in breaches]


def dns_cutover_bake_line(reading, breaches, round_no, rounds, elapsed, bake_seconds, weights):
    """One progress line per bake round: where, when, the gate reading, the verdict."""
    verdict = ("BREACH: " + "; ".join(_breach_texts(breaches))) if breaches else "OK"
    return (f"bake {int(round_no)}/{int(rounds)} t+{int(round(float(elapsed)))}s of {int(float(bake_seconds))}s "
            f"at old {weights.get('old')} / new {weights.get('new')}: {(reading or {}).get('line', '')} -> {verdict}")


def dns_cutover_wait_line(round_no, rounds, left, weights, last_reading):
    """While a bake round waits for its reading: the last reading, and how long until the next."""
    last = (last_reading or {}).get("line") or "none yet"
    return (f"bake {int(round_no)}/{int(rounds)} at old {weights.get('old')} / new {weights.get('new')}: "
            f"next gate reading in {int(left)}s; last reading: {last}")


def dns_cutover_breach_message(breaches, stage, round_no, rounds, rollback_weights, seconds_to_insync):
    """The one-line failure of a bake that breached and rolled back."""
    gates = "; ".join(f"gate {b.get('gate')} = {b.get('value')} (threshold {b.get('threshold')})" for b in breaches)
    return (f"BREACH during the bake of stage {stage} (round {int(round_no)}/{int(rounds)}): {gates}. "
            f"Rolled back to old {rollback_weights.get('old')} / new {rollback_weights.get('new')}, "
            f"INSYNC {seconds_to_insync}s after the breach was seen.")


def dns_cutover_gate_breaches(aws_breaches, probe_error, new_url):
    """The gate's breaches: the AWS readings' plus the HTTP probe's, if it failed."""
    out = list(aws_breaches or [])
    if probe_error:
        out.append({"gate": "http_probe", "value": probe_error, "threshold": "every probe check passes",
                    "text": f"http_probe of {new_url}: {probe_error}"})
    return out


class FilterModule:
    def filters(self):
        return {
            "dns_cutover_run": dns_cutover_run,
            "dns_cutover_schedule": dns_cutover_schedule,
            "dns_cutover_record_name": dns_cutover_record_name,
            "dns_cutover_gate_read_error": dns_cutover_gate_read_error,
            "dns_cutover_wait_chunks": dns_cutover_wait_chunks,
            "dns_cutover_bake_plan": dns_cutover_bake_plan,
            "dns_cutover_rollback_weights": dns_cutover_rollback_weights,
            "dns_cutover_finalize_refusal": dns_cutover_finalize_refusal,
            "dns_cutover_bake_clean": dns_cutover_bake_clean,
            "dns_cutover_bake_line": dns_cutover_bake_line,
            "dns_cutover_wait_line": dns_cutover_wait_line,
            "dns_cutover_breach_message": dns_cutover_breach_message,
            "dns_cutover_gate_breaches": dns_cutover_gate_breaches,
        }
