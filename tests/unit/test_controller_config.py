"""controller.yml renders the AWX / Automation Controller objects it would send (issue 13).

No controller runs here: the playbook always writes what the awx.awx modules receive to
controller.json and only applies it when CONTROLLER_HOST is set. These tests run it for
real (ansible-playbook, no network), then check the objects: one job template per entry
playbook with its survey (choices taken from the playbooks' own configuration, the version
question stating the playbook's own check), ask_variables_on_launch off, no concurrent
cutover/deploy/rotation, the project's EE, one inventory per environment from this
repository, AWS credentials by name only. And that apply.yml sends exactly the rendered keys.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from helpers.playbook import REPO
from helpers.playbook import run_playbook

ENTRY_EXCLUDED = {"rehearsal.yml", "controller.yml", "build_ee.yml"}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def entry_playbooks():
    out = set()
    for path in REPO.glob("*.yml"):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, list) and data and all(isinstance(p, dict) and ("hosts" in p or "import_playbook" in p) for p in data):
            out.add(path.name)
    return out - ENTRY_EXCLUDED


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("controller")
    run = run_playbook("controller.yml", tmp, env={"CONTROLLER_HOST": ""}, verbosity="-v")
    assert run.rc == 0, run.tail()
    data = json.loads((Path(run.dirs["audit"]) / "controller" / "controller.json").read_text())
    again = run_playbook("controller.yml", tmp, env={"CONTROLLER_HOST": ""}, verbosity="", dirs=run.dirs)
    assert again.rc == 0 and again.recap["changed"] == 0, again.tail()
    return {"objects": data, "run": run}


def templates_by_playbook(objects):
    return {t["playbook"]: t for t in objects["job_templates"]}


def question(t, variable):
    found = [q for q in t["survey_spec"]["spec"] if q["variable"] == variable]
    assert len(found) == 1, f"{t['name']}: no single survey question for {variable}"
    return found[0]


def test_not_applied_without_a_controller(rendered):
    out = rendered["run"].stdout
    assert "applied: no (no CONTROLLER_HOST)" in out
    assert re.search(r"TASK \[controller_config : Apply to the controller\][^\n]*\n\s*skipping", out)


def test_one_template_per_entry_playbook(rendered):
    objs = rendered["objects"]
    by_pb = templates_by_playbook(objs)
    assert len(by_pb) == len(objs["job_templates"])
    assert set(by_pb) == entry_playbooks()
    assert {"verify.yml", "cutover.yml", "deploy.yml", "rotate_wallet.yml", "build_image.yml"} <= set(by_pb)


def test_every_template_has_a_valid_survey_and_no_free_variables(rendered):
    for t in rendered["objects"]["job_templates"]:
        assert t["survey_enabled"] is True and t["survey_spec"]["spec"], t["name"]
        assert t["ask_variables_on_launch"] is False, t["name"]
        assert t["extra_vars"] == {}, t["name"]
        assert t["execution_environment"] == rendered["objects"]["execution_environment"]["name"]
        assert (REPO / t["playbook"]).is_file()
        variables = [q["variable"] for q in t["survey_spec"]["spec"]]
        assert len(variables) == len(set(variables)), t["name"]
        for q in t["survey_spec"]["spec"]:
            assert {"question_name", "question_description", "variable", "type", "required", "default"} <= set(q), q
            assert q["type"] in SURVEY_TYPES, q
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", q["variable"]), q
            if q["type"] == "multiplechoice":
                assert isinstance(q["choices"], list) and q["choices"], q
                assert all(isinstance(c, str) for c in q["choices"]), q
                assert q["default"] in q["choices"] + [""], q
            if q["type"] in ("text", "integer"):
                assert q["min"] <= q["max"], q


def test_no_concurrent_cutover_deploy_or_rotation(rendered):
    by_pb = templates_by_playbook(rendered["objects"])
    for pb in ("cutover.yml", "deploy.yml", "rollback.yml", "rotate_wallet.yml"):
        assert by_pb[pb]["allow_simultaneous"] is False, pb
    assert by_pb["verify.yml"]["allow_simultaneous"] is True  # read-only


def test_cutover_stage_choices_are_the_configured_stages_plus_finalize(rendered):
    stages = yaml.safe_load((REPO / "roles/dns_cutover/defaults/main.yml").read_text())["dns_cutover_stages"]
    q = question(templates_by_playbook(rendered["objects"])["cutover.yml"], "stage")
    assert q["type"] == "multiplechoice" and q["required"] is True
    assert q["choices"] == [str(s) for s in stages] + ["finalize"]
    assert q["default"] == ""  # no stage is preselected


def test_wallet_choice(rendered):
    q = question(templates_by_playbook(rendered["objects"])["rotate_wallet.yml"], "wallet")
    assert q["type"] == "multiplechoice" and q["choices"] == ["evm", "solana", "all"]


def test_version_questions_state_the_playbooks_own_check(rendered):
    by_pb = templates_by_playbook(rendered["objects"])
    build_re = yaml.safe_load((REPO / "roles/image_build/defaults/main.yml").read_text())["image_build_version_pattern"]
    deploy_re = yaml.safe_load((REPO / "roles/ecs_deploy/defaults/main.yml").read_text())["ecs_deploy_version_pattern"]
    for pb, pattern in (("build_image.yml", build_re), ("deploy.yml", deploy_re)):
        q = question(by_pb[pb], "version")
        assert q["type"] == "text" and q["required"] is True, pb
        assert pattern in q["question_description"], pb
        # the survey's length bounds never refuse what the playbook accepts, e.g. 1.0.0
        assert q["min"] <= len("1.0.0") and q["max"] >= 128, pb


def test_production_confirmation_is_a_survey_answer(rendered):
    for t in rendered["objects"]["job_templates"]:
        if t["playbook"] == "verify.yml":
            continue
        q = question(t, "confirm")
        assert q["choices"] == ["no", "yes"] and q["default"] == "no", t["name"]


def test_ee_project_and_inventories(rendered):
    objs = rendered["objects"]
    version = yaml.safe_load((REPO / "collections/ansible_collections/facilitator/ops/galaxy.yml").read_text())["version"]
    assert objs["execution_environment"]["image"].endswith(f"/facilitator-ops-ee:{version}")
    assert objs["execution_environment"]["pull"] == "missing"
    assert objs["project"]["scm_type"] == "git" and objs["project"]["default_environment"] == objs["execution_environment"]["name"]
    envs = sorted(p.name for p in (REPO / "inventories").iterdir() if p.is_dir() and p.name != "local")
    assert sorted(i["name"].split()[-1] for i in objs["inventories"]) == envs
    for src in objs["inventory_sources"]:
        assert src["source"] == "scm" and src["source_project"] == objs["project"]["name"]
        assert (REPO / src["source_path"]).is_file(), src["source_path"]


def test_aws_credentials_by_reference_only(rendered):
    objs = rendered["objects"]
    text = json.dumps(objs)
    # names of credentials that exist on the controller; never key material or a credential object
    assert all(isinstance(c, str) for c in objs["credentials_referenced"])
    for t in objs["job_templates"]:
        assert set(t["credentials"]) <= set(objs["credentials_referenced"])
    assert not re.search(r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|aws_secret_access_key|\"inputs\"", text)
    assert "credential" not in objs  # no credential object is created here


def test_apply_sends_exactly_the_rendered_objects(rendered):
    """apply.yml passes every rendered key of an object to its awx.awx module, and nothing else."""
    objs = rendered["objects"]
    tasks = yaml.safe_load((REPO / "roles/controller_config/tasks/apply.yml").read_text())
    kinds = {
        "awx.awx.organization": objs["organization"],
        "awx.awx.execution_environment": objs["execution_environment"],
        "awx.awx.project": objs["project"],
        "awx.awx.inventory": objs["inventories"][0],
        "awx.awx.inventory_source": objs["inventory_sources"][0],
        "awx.awx.job_template": objs["job_templates"][0],
    }
    seen = set()
    for task in tasks:
        module = next(k for k in task if k.startswith("awx.awx."))
        seen.add(module)
        args = set(task[module]) - {"state", "wait"}
        assert args == set(kinds[module]), f"{module}: sends {sorted(args ^ set(kinds[module]))} differently from the render"
    assert seen == set(kinds)


def test_applying_with_the_local_registry_is_refused_before_any_call(tmp_path):
    run = run_playbook("controller.yml", tmp_path, env={"CONTROLLER_HOST": "https://127.0.0.1:9"}, verbosity="")
    assert run.rc != 0
    assert "set FACILITATOR_OPS_EE_REGISTRY" in run.stdout, run.tail()
    assert "Organization" not in run.stdout  # nothing was sent
