"""The dns_cutover role's filters (filter_plugins/dns_cutover.py), as the role calls them."""
from __future__ import annotations

import pytest

import dns_cutover as f

STAGES = [0, 10, 50, 100]
ALLOWED = "0, 10, 50, 100, finalize"


@pytest.mark.parametrize("stage", ["37", "abc", "-1", "101", "", " 10x", None])
def test_a_stage_not_configured_is_named_alone(stage):
    out = f.dns_cutover_run(stage, STAGES, "yes", 0, 1)
    want = ("" if stage is None else stage).strip().lower()
    assert out["error"] == f"stage '{want}' is not allowed: use -e stage=<one of {ALLOWED}> (nothing was changed)"


@pytest.mark.parametrize("stage,weights", [("10", {"old": 90, "new": 10}), (" 50 ", {"old": 50, "new": 50}),
                                           (100, {"old": 0, "new": 100}), ("0", {"old": 100, "new": 0})])
def test_a_stage_gives_the_weights(stage, weights):
    out = f.dns_cutover_run(stage, STAGES, "no", 1800, 60)
    assert out["error"] == "" and out["target_weights"] == weights and not out["finalize"]
    assert out["stage"] == str(stage).strip()


def test_finalize_has_no_weights():
    out = f.dns_cutover_run("FINALIZE", STAGES, "no", 0, 1)
    assert out == dict(stage="finalize", allowed=ALLOWED.split(", "), finalize=True, target_weights={},
                       break_lock="no", error="")


@pytest.mark.parametrize("given,mode", [("no", "no"), ("False", "no"), ("yes", "yes"), ("TRUE", "yes"),
                                        (True, "yes"), (False, "no")])
def test_break_lock_spellings(given, mode):
    assert f.dns_cutover_run("10", STAGES, given, 0, 1)["break_lock"] == mode


def test_every_broken_option_in_one_line():
    out = f.dns_cutover_run("10", [0, 10, 150, "x"] + [], "maybe", -5, 0)
    # the stage list includes "10", so the stage itself is fine; the rest is named once each
    assert out["error"] == (
        'dns_cutover_stages must be integers 0..100 and include 0, got [0, 10, 150, "x"]; '
        "break_lock must be yes or force, got 'maybe'; "
        "bake seconds must be >= 0 and the interval > 0 (nothing was changed)")
    assert "\n" not in out["error"]


def test_stages_must_include_zero():
    assert "include 0" in f.dns_cutover_run("10", [10, 50, 100], "no", 0, 1)["error"]


def test_force_is_only_for_stage_zero():
    assert "only for an emergency rollback" in f.dns_cutover_run("10", STAGES, "force", 0, 1)["error"]
    assert f.dns_cutover_run("0", STAGES, "force", 0, 1)["break_lock"] == "force"


@pytest.mark.parametrize("bake,interval,margin,want", [
    (1800, 60, 15, dict(interval=60.0, rounds=30, lock_ttl=1800 + 900 + 600)),
    (60, 15, 15, dict(interval=15.0, rounds=4, lock_ttl=60 + 900 + 600)),
    (10, 60, 0, dict(interval=10.0, rounds=1, lock_ttl=610)),     # interval never longer than the bake
    (0, 60, 15, dict(interval=1.0, rounds=0, lock_ttl=1500)),     # no bake
    (61, 15, 1, dict(interval=15.0, rounds=5, lock_ttl=721)),     # rounds round up
    ("30", "2", "15", dict(interval=2.0, rounds=15, lock_ttl=1530)),
])
def test_schedule(bake, interval, margin, want):
    assert f.dns_cutover_schedule(bake, interval, margin) == want


@pytest.mark.parametrize("seconds,chunk,want", [
    (60, 25, [(25, 35), (25, 10), (10, 0)]),
    (25, 25, [(25, 0)]),
    (2.0, 25, [(2, 0)]),
    (1.5, 25, [(2, 0)]),
    (0, 25, []),
    (90, 30, [(30, 60), (30, 30), (30, 0)]),
])
def test_wait_chunks_never_longer_than_the_progress_interval(seconds, chunk, want):
    out = f.dns_cutover_wait_chunks(seconds, chunk)
    assert [(c["seconds"], c["left"]) for c in out] == want
    assert all(c["seconds"] <= chunk for c in out)


def test_bake_plan():
    lock = {"state": {"clean_bake_stage": "50"}}
    assert f.dns_cutover_bake_plan({"changed": True}, lock, "50", 3, False) == dict(already_clean=False, needed=True)
    assert f.dns_cutover_bake_plan({"changed": False}, lock, "50", 3, False) == dict(already_clean=True, needed=False)
    assert f.dns_cutover_bake_plan({"changed": False}, {}, "50", 3, False) == dict(already_clean=False, needed=True)
    assert f.dns_cutover_bake_plan({}, {}, "50", 3, True)["needed"] is False          # check mode
    assert f.dns_cutover_bake_plan({}, {}, "0", 3, False)["needed"] is False          # stage 0
    assert f.dns_cutover_bake_plan({}, {}, "finalize", 3, False)["needed"] is False
    assert f.dns_cutover_bake_plan({}, {}, "10", 0, False)["needed"] is False         # no rounds


def test_rollback_weights():
    changed = {"changed": True, "before": {"weights": {"old": 90, "new": 10}}}
    assert f.dns_cutover_rollback_weights(changed, "previous", STAGES, "50") == {"old": 90, "new": 10}
    assert f.dns_cutover_rollback_weights(changed, "zero", STAGES, "50") == {"old": 100, "new": 0}
    # nothing changed by this run, or a simple record before: the next lower stage
    assert f.dns_cutover_rollback_weights({"changed": False}, "previous", STAGES, "50") == {"old": 90, "new": 10}
    simple = {"changed": True, "before": {"kind": "simple", "weights": {"old": None, "new": None}}}
    assert f.dns_cutover_rollback_weights(simple, "previous", STAGES, "10") == {"old": 100, "new": 0}
    assert f.dns_cutover_rollback_weights({}, "previous", ["0", "10", "50", "100"], "100") == {"old": 50, "new": 50}


def test_progress_lines():
    reading = {"line": "new weight 10%; targets 2 healthy/0 unhealthy"}
    w = {"old": 90, "new": 10}
    assert f.dns_cutover_bake_line(reading, [], 2, 4, 31.6, 60, w) == (
        "bake 2/4 t+32s of 60s at old 90 / new 10: new weight 10%; targets 2 healthy/0 unhealthy -> OK")
    breach = [{"gate": "5xx_rate", "value": 0.2, "threshold": 0.01, "text": "5xx_rate 0.2 > 0.01"}]
    assert f.dns_cutover_bake_line(reading, breach, 2, 4, 31, "60", w).endswith("-> BREACH: 5xx_rate 0.2 > 0.01")
    assert f.dns_cutover_wait_line(3, 4, 35, w, reading) == (
        "bake 3/4 at old 90 / new 10: next gate reading in 35s; last reading: new weight 10%; targets 2 healthy/0 unhealthy")
    assert f.dns_cutover_wait_line(1, 4, 0, w, {}).endswith("last reading: none yet")


def test_breach_message_is_one_line():
    breaches = [{"gate": "5xx_rate", "value": 0.2, "threshold": 0.01}, {"gate": "http_probe", "value": "down",
                                                                        "threshold": "every probe check passes"}]
    msg = f.dns_cutover_breach_message(breaches, "50", 2, 30, {"old": 90, "new": 10}, 0.52)
    assert msg == ("BREACH during the bake of stage 50 (round 2/30): gate 5xx_rate = 0.2 (threshold 0.01); "
                   "gate http_probe = down (threshold every probe check passes). Rolled back to old 90 / new 10, "
                   "INSYNC 0.52s after the breach was seen.")


def test_gate_breaches_add_the_probe():
    aws = [{"gate": "healthy_targets", "value": 0, "threshold": 1, "text": "healthy_targets 0 < 1"}]
    assert f.dns_cutover_gate_breaches(aws, "", "https://new") == aws
    out = f.dns_cutover_gate_breaches(aws, "health: 503", "https://new")
    assert out[1] == {"gate": "http_probe", "value": "health: 503", "threshold": "every probe check passes",
                      "text": "http_probe of https://new: health: 503"}
    assert aws == [aws[0]]  # the input is not changed


def test_filters_are_registered():
    assert set(f.FilterModule().filters()) == {n for n in dir(f) if n.startswith("dns_cutover_")}


def test_finalize_refusal():
    assert f.dns_cutover_finalize_refusal({"state": {"clean_bake_stage": "100"}}, STAGES) == ""
    assert f.dns_cutover_finalize_refusal({"state": {"last_stage": "finalize", "last_result": "no change"}}, STAGES) == ""
    assert f.dns_cutover_finalize_refusal({"state": {"last_stage": "50", "last_result": "changed",
                                                     "clean_bake_stage": "50"}}, STAGES) == (
        "finalize needs a clean bake at stage 100 first (stage record: last stage 50, changed, clean bake at stage 50); "
        "nothing was changed")
    assert f.dns_cutover_finalize_refusal({}, ["0", "10", "100"]) == (
        "finalize needs a clean bake at stage 100 first (stage record: last stage none, no result, no clean bake); "
        "nothing was changed")


def test_bake_clean():
    assert f.dns_cutover_bake_clean({"already_clean": True, "needed": False}, 30, 0, 1800) is True
    assert f.dns_cutover_bake_clean({"already_clean": False, "needed": True}, 30, 1800, 1800) is True
    assert f.dns_cutover_bake_clean({"already_clean": False, "needed": True}, 1, 60, 1800) is False   # too short
    assert f.dns_cutover_bake_clean({"already_clean": False, "needed": False}, 0, 0, 0) is True       # no rounds
    assert f.dns_cutover_bake_clean({"already_clean": False, "needed": False}, 3, 60, 0) is False    # not baked


def test_issue18_breach_while_stepping_down_rolls_toward_the_old_side():
    """100 -> 50 breaches: the new side is failing, so the rollback lowers its share (next lower stage,
    or old 100 / new 0 with rollback_to=zero), never back to new 100."""
    down = {"changed": True, "before": {"kind": "weighted", "weights": {"old": 0, "new": 100}}}
    assert f.dns_cutover_rollback_weights(down, "previous", STAGES, "50") == {"old": 90, "new": 10}
    assert f.dns_cutover_rollback_weights(down, "zero", STAGES, "50") == {"old": 100, "new": 0}
    # stage 10 after finalize (simple alias to new = old 0 / new 100): rolls to old 100 / new 0
    finalized = {"changed": True, "before": {"kind": "simple", "points_to": "new", "weights": {"old": 0, "new": 100}}}
    assert f.dns_cutover_rollback_weights(finalized, "previous", STAGES, "10") == {"old": 100, "new": 0}
    # stepping up still rolls back to where it was
    up = {"changed": True, "before": {"kind": "weighted", "weights": {"old": 90, "new": 10}}}
    assert f.dns_cutover_rollback_weights(up, "previous", STAGES, "50") == {"old": 90, "new": 10}


@pytest.mark.parametrize("given", ["Facilitator.UltraVioletaDAO.xyz", "facilitator.ultravioletadao.xyz.",
                                   " facilitator.ultravioletadao.xyz "])
def test_issue18_lock_and_stage_record_use_the_normalised_record_name(given):
    assert f.dns_cutover_record_name(given) == "facilitator.ultravioletadao.xyz."


def test_issue18_gate_read_error_is_a_breach():
    b = f.dns_cutover_gate_read_error("gate facilitator-production-alb: reading target health / metrics failed: "
                                      "An error occurred (AccessDenied)\nmore", "bake 2/4")
    assert b["gate"] == "gate_read" and b["value"].endswith("(AccessDenied)") and "\n" not in b["text"]
    assert b["text"].startswith("gate_read bake 2/4: ")
    msg = f.dns_cutover_breach_message([b], "50", 2, 4, {"old": 90, "new": 10}, 1.2)
    assert "gate gate_read = " in msg and "Rolled back to old 90 / new 10" in msg
