# -*- coding: utf-8 -*-
"""The wallet rotation's resume state machine, derived from what AWS and the
chains show (never from a local file, so any operator on any machine resumes
the same rotation).

Per wallet secret, the version stages say where a rotation stands (the steps
of Secrets Manager's own rotation protocol: create pending, test, promote):

  idle      no AWSPENDING                          -> create a new key
  pending   AWSPENDING on a version != AWSCURRENT  -> fund, then promote
  promoted  AWSPENDING on the AWSCURRENT version   -> redeploy, prove, sweep, finish
            (the old version is AWSPREVIOUS)

`finish` removes AWSPENDING from the current version: the rotation is over
and the next run starts a new one (guarded by the recent-rotation check).
A failed proof moves AWSCURRENT back to the old version and leaves AWSPENDING
on the new one: the state is `pending` again, already funded, so a rerun
retries without a new key and without paying twice.

Within a phase, each step checks the state it leaves on the chains:
  fund   new balance >= target on a network   -> that network is skipped
  sweep  old balance == 0 (or only dust)      -> that network is skipped
"""
from __future__ import annotations

PENDING = "AWSPENDING"
CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"


class StateError(Exception):
    pass


def stage_map(version_ids_to_stages):
    """{version_id: [stages]} -> {stage: version_id} (a stage is on one version)."""
    out = {}
    for vid, stages in (version_ids_to_stages or {}).items():
        for s in stages or []:
            if s in out:
                raise StateError(f"stage {s} on two versions ({out[s]}, {vid})")
            out[s] = vid
    return out


def phase_of(version_ids_to_stages):
    """-> dict(phase, current, pending, previous, old, new) with version ids.

    `old` is the version holding the wallet being replaced, `new` the one
    replacing it (None when idle)."""
    st = stage_map(version_ids_to_stages)
    cur, pen, prev = st.get(CURRENT), st.get(PENDING), st.get(PREVIOUS)
    if cur is None:
        raise StateError("the secret has no AWSCURRENT version")
    if pen is None:
        return dict(phase="idle", current=cur, pending=None, previous=prev, old=cur, new=None)
    if pen != cur:
        return dict(phase="pending", current=cur, pending=pen, previous=prev, old=cur, new=pen)
    if prev is None:
        raise StateError(
            "AWSPENDING is on the AWSCURRENT version but there is no AWSPREVIOUS: cannot tell the old wallet "
            "(was AWSPREVIOUS moved by hand?)"
        )
    return dict(phase="promoted", current=cur, pending=pen, previous=prev, old=prev, new=cur)


def next_steps(phase):
    """The steps a run still has to do from a phase, in order."""
    if phase == "idle":
        return ["create", "fund", "promote", "redeploy", "prove", "sweep", "finish"]
    if phase == "pending":
        return ["fund", "promote", "redeploy", "prove", "sweep", "finish"]
    if phase == "promoted":
        return ["redeploy", "prove", "sweep", "finish"]
    raise StateError(f"unknown phase {phase!r}")


def combined_phase(phases):
    """Several wallets rotate together (one redeploy): the least advanced
    wallet decides where the run resumes."""
    order = {"idle": 0, "pending": 1, "promoted": 2}
    if not phases:
        return "idle"
    return min(phases, key=lambda p: order[p])


def forward_only(st, new):
    """Why a rotation can no longer roll back ("" when it can): its sweep has started (the secret's
    sweep-started mark names the new version). The old key is then (partly) empty, maybe leaked:
    AWSCURRENT must never move back onto it."""
    rec = st.get("sweep_started") or {}
    if new and rec.get("version") == new:
        return f"the sweep of the old wallet into {new} started (epoch {rec.get('epoch')})"
    return ""


def stage_action(action, st, old, new):
    """-> (operation or None, message). Raises StateError when the secret is not
    in a state the action can start from."""
    cur, pen = st["current"], st["pending"]
    if action == "promote":
        if cur == new and pen == new:
            return None, "already promoted"
        if pen != new or cur != old:
            raise StateError(f"cannot promote: AWSCURRENT={cur}, AWSPENDING={pen}, expected {old} and {new}")
        return ("move_current", new, old), f"AWSCURRENT {old} -> {new} ({old} becomes AWSPREVIOUS)"
    if action == "rollback":
        if cur == old:
            return None, "already on the old version"
        if cur != new:
            raise StateError(f"cannot roll back: AWSCURRENT={cur} is neither {old} nor {new}")
        why = forward_only(st, new)
        if why:
            raise StateError(f"FORWARD ONLY, not rolling back: {why}; AWSCURRENT stays on {new} (the old key is "
                             f"swept, maybe leaked). Fix the cause and rerun rotate_wallet.yml: it goes forward")
        return ("move_current", old, new), f"AWSCURRENT {new} -> {old} (back to the old wallet; {new} keeps AWSPENDING)"
    if action == "finish":
        if pen is None and cur == new:
            return None, "already finished"
        if cur != new or pen != new:
            raise StateError(f"cannot finish: AWSCURRENT={cur}, AWSPENDING={pen}, expected both on {new}")
        return ("remove_pending", new), f"AWSPENDING removed from {new}: rotation finished"
    raise StateError(f"unknown action {action}")


def transfer_stage_check(mode, st, old, new):
    """fund only while pending (old current, new pending); sweep only once promoted."""
    if mode == "fund":
        if st["current"] == new:
            raise StateError("already promoted: funding is over (the new wallet is live)")
        if st["current"] != old or st["pending"] != new:
            raise StateError(f"fund needs AWSCURRENT={old} and AWSPENDING={new}, found {st['current']} and {st['pending']}")
    else:
        if st["current"] != new or st["previous"] != old:
            raise StateError(f"sweep needs AWSCURRENT={new} (promoted) and AWSPREVIOUS={old}, found "
                             f"{st['current']} and {st['previous']}: sweeping before the new wallet is live is refused")
