"""The ecs_deploy role's filters (filter_plugins/ecs_deploy.py), as the role calls them."""
from __future__ import annotations

import pytest

import ecs_deploy as f

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("image,version,rollback,to_rev,msg", [
    ("", "", False, "", "deploy: give the image: -e image=<registry>/facilitator:<version> (or a digest ref) or -e version=X.Y.Z"),
    (None, None, "no", None, "deploy: give the image"),
    ("", "1.2.3", True, "", "rollback: takes no image/version"),
    ("r/facilitator:1", "", "yes", "", "rollback: takes no image/version"),
    ("", "1.x", False, "", 'deploy: invalid version "1.x": expected X.Y.Z[-pre] (a leading v is allowed)'),
    ("Registry/facilitator:1", "", False, "", 'deploy: invalid image "Registry/facilitator:1"'),
    ("registry/facilitator", "", False, "", 'deploy: invalid image "registry/facilitator"'),   # no tag, no digest
    ("", "", True, "abc", 'deploy: invalid to_revision "abc": expected a revision number'),
])
def test_bad_input_is_one_line(image, version, rollback, to_rev, msg):
    out = f.ecs_deploy_input(image, version, rollback, to_rev, 900, 15)
    assert out["error"].startswith(msg) and "\n" not in out["error"]


@pytest.mark.parametrize("image,version", [
    ("", "1.2.3"), ("", "v1.2.3-rc.1"), ("1.2.3", ""), ("127.0.0.1:5001/facilitator:1.2.3", ""),
    (f"123.dkr.ecr.us-east-2.amazonaws.com/facilitator@{DIGEST}", ""), ("r/facilitator:1.2.3", "1.2.3"),
])
def test_good_input(image, version):
    out = f.ecs_deploy_input(image, version, False, "", 900, 15)
    assert out["error"] == "" and out["rollback"] is False


def test_rollback_input_is_normalised():
    out = f.ecs_deploy_input(None, "", "TRUE", " 7 ", 900, 15)
    assert out == dict(rollback=True, image="", version="", to_revision="7", error="")


def test_timeout_and_interval_must_be_positive():
    assert "must be positive" in f.ecs_deploy_input("", "1.2.3", False, "", 0, 15)["error"]
    assert "must be positive" in f.ecs_deploy_input("", "1.2.3", False, "", 900, -1)["error"]


def _target(image="", version="", state=None, registry="", **kw):
    return f.ecs_deploy_target(f.ecs_deploy_input(image, version), state, registry, "facilitator",
                               "/s/image.json", kw.get("env", "local"))


def test_a_version_resolves_to_the_image_the_build_recorded():
    state = {"version": "v1.2.3", "image": "reg/facilitator:1.2.3-abc1234"}
    assert _target(version="1.2.3", state=state, registry="reg") == dict(
        image="reg/facilitator:1.2.3-abc1234", version="1.2.3", by_version=True, error="")
    # -e image=<version> is the same as -e version=
    assert _target(image="v1.2.3", state=state)["image"] == "reg/facilitator:1.2.3-abc1234"


def test_a_version_the_build_did_not_record_resolves_in_the_registry():
    state = {"version": "1.2.3", "image": "reg/facilitator:1.2.3-abc1234"}
    assert _target(version="1.3.0", state=state, registry="reg")["image"] == "reg/facilitator:1.3.0"


def test_an_unresolvable_version_is_one_line():
    out = _target(version="1.3.0", state={}, registry="", env="production")
    assert out["image"] == "" and out["error"] == (
        "deploy: cannot resolve version 1.3.0 to an image: /s/image.json does not name it and ecs_deploy_registry "
        "is not set for production; pass -e image=<full reference>")


def test_a_full_reference_is_deployed_as_given_with_the_recorded_version():
    ref = "reg/facilitator:1.2.3-abc1234"
    assert _target(image=ref, state={"version": "1.2.3", "image": ref}) == dict(
        image=ref, version="1.2.3", by_version=False, error="")
    assert _target(image="reg/facilitator:other", state={"version": "1.2.3", "image": ref})["version"] == ""
    assert _target(image="reg/facilitator:x", version="v2.0.0")["version"] == "2.0.0"


def test_value_from():
    state = {"container_secrets": [{"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": "arn:...:private_key::"}]}
    assert f.ecs_deploy_value_from(state, True) == {"EVM_PRIVATE_KEY_TESTNET": "arn:...:private_key::"}
    assert f.ecs_deploy_value_from(state, "false") == {}
    assert f.ecs_deploy_value_from({}, True) == {}


PLAN = {"current": {"family_revision": "f:1", "image": "r/f:1.0.0", "running_version": "1.0.0",
                    "running_version_source": "/version"},
        "target": {"family_revision": "f:1", "image": "r/f:1.1.0", "version": "1.1.0"},
        "registered": True, "version_check": "upgrade 1.0.0 -> 1.1.0", "changes": ["image: r/f:1.0.0 -> r/f:1.1.0"],
        "reused": False}


def test_plan_lines():
    assert f.ecs_deploy_plan_lines(PLAN, "c", "s", True) == [
        "deploy c/s: f:1 (r/f:1.0.0, running 1.0.0 per /version) -> a new revision (r/f:1.1.0, 1.1.0)",
        "version check: upgrade 1.0.0 -> 1.1.0", "image: r/f:1.0.0 -> r/f:1.1.0",
        "check mode: nothing registered, the service is not updated"]
    same = dict(PLAN, registered=False, changes=[], reused=True,
                current=dict(PLAN["current"], running_version=None))
    assert f.ecs_deploy_plan_lines(same, "c", "s", False) == [
        "deploy c/s: f:1 (r/f:1.0.0, running ? per /version) -> f:1 (r/f:1.1.0, 1.1.0)",
        "version check: upgrade 1.0.0 -> 1.1.0", "task definition: no change (reusing f:1)"]


def test_rollout_lines():
    update = {"state": "IN_PROGRESS", "reason": "f:2 PRIMARY rollout IN_PROGRESS: running 1/2", "waited": 21.4,
              "progress": ["[   21s] f:2 PRIMARY rollout IN_PROGRESS: running 1/2"]}
    assert f.ecs_deploy_rollout_lines(update, "deploy") == [
        "deploy [   21s] f:2 PRIMARY rollout IN_PROGRESS: running 1/2", "deploy: IN_PROGRESS after 21s"]
    done = {"state": "SKIPPED", "reason": "s updated to f:2, not waiting", "progress": []}
    assert f.ecs_deploy_rollout_lines(done, "rollback") == ["rollback: SKIPPED: s updated to f:2, not waiting"]


def test_runtime_lines():
    rt = {"progress": ["[  1.0s] f:2: started"], "stopped_reason": "exited 1", "logs": ["fatal: broken"]}
    assert f.ecs_deploy_runtime_lines(rt) == ["[  1.0s] f:2: started", "stopped: exited 1", "last log lines:",
                                              "fatal: broken"]
    assert f.ecs_deploy_runtime_lines({"progress": ["x"], "logs": []}) == ["x"]


def test_filters_are_registered():
    assert set(f.FilterModule().filters()) == {n for n in dir(f) if n.startswith("ecs_deploy_")}


def test_the_filter_default_is_the_role_default():
    import yaml
    from pathlib import Path

    defaults = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/ecs_deploy/defaults/main.yml").read_text())
    assert f.VERSION_PATTERN == defaults["ecs_deploy_version_pattern"]


def test_requested_is_the_checked_input_or_the_raw_values():
    checked = f.ecs_deploy_input("", "v1.2.3", False, "", 600, 15)
    assert f.ecs_deploy_requested(checked, "", "v1.2.3", "")["version"] == checked["version"]
    # refused before the check ran: what was given
    assert f.ecs_deploy_requested({}, "img:1", "", 7) == {"image": "img:1", "version": "", "to_revision": "7"}
    assert f.ecs_deploy_requested(None) == {"image": "", "version": "", "to_revision": ""}
