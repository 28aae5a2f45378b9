"""Task-definition derivation and the downgrade guard (no network)."""
from __future__ import annotations

import copy

import pytest

from ansible.module_utils.facilitator_ops.ecs import taskdef as t

ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:"
CURRENT = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-2:123456789012:task-definition/facilitator-production:7",
    "family": "facilitator-production", "revision": 7, "status": "ACTIVE",
    "requiresAttributes": [{"name": "ecs.capability.secrets.asm.environment-variables"}],
    "compatibilities": ["EC2", "FARGATE"], "registeredAt": "2026-01-01T00:00:00Z", "registeredBy": "arn:aws:iam::1:user/x",
    "networkMode": "awsvpc", "cpu": "1024", "memory": "2048", "requiresCompatibilities": ["FARGATE"],
    "executionRoleArn": "arn:aws:iam::123456789012:role/facilitator-production-execution",
    "containerDefinitions": [
        # the sidecar first: selection is by name, never by index
        {"name": "otel-collector", "image": "public.ecr.aws/aws-observability/aws-otel-collector:latest",
         "essential": False},
        {"name": "facilitator", "image": "1.dkr.ecr.us-east-2.amazonaws.com/facilitator:1.68.0-abc1234",
         "essential": True, "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
         "environment": [{"name": "SIGNER_TYPE", "value": "private-key"}],
         "secrets": [{"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": ARN + "old-testnet-AAAAAA:private_key::"},
                     {"name": "RPC_URL_BASE_SEPOLIA", "valueFrom": ARN + "rpc-testnet-BBBBBB:base-sepolia::"}],
         "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                         "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60}},
    ],
}
NEW_IMAGE = "1.dkr.ecr.us-east-2.amazonaws.com/facilitator:1.69.0-def5678"


def test_derive_sets_only_the_named_containers_image_and_drops_read_only_fields():
    before = copy.deepcopy(CURRENT)
    new, changes = t.derive_task_definition(CURRENT, image=NEW_IMAGE, tags=[{"key": "team", "value": "ops"}])
    assert CURRENT == before  # input untouched
    for field in t.READ_ONLY_FIELDS:
        assert field not in new
    assert new["containerDefinitions"][1]["image"] == NEW_IMAGE
    assert new["containerDefinitions"][0] == CURRENT["containerDefinitions"][0]  # sidecar untouched
    assert new["containerDefinitions"][1]["healthCheck"] == CURRENT["containerDefinitions"][1]["healthCheck"]
    assert new["executionRoleArn"] == CURRENT["executionRoleArn"] and new["cpu"] == "1024"
    assert new["tags"] == [{"key": "team", "value": "ops"}]
    assert changes == [f"container facilitator: image {CURRENT['containerDefinitions'][1]['image']} -> {NEW_IMAGE}"]


def test_derive_same_image_changes_nothing():
    new, changes = t.derive_task_definition(CURRENT, image=CURRENT["containerDefinitions"][1]["image"])
    assert changes == []
    assert t.same_definition(new, t.registerable(CURRENT))


def test_derive_replaces_secret_value_from_by_name_and_adds_missing():
    vf = {"EVM_PRIVATE_KEY_TESTNET": ARN + "facilitator-evm-testnet-private-key-CCCCCC:private_key::",
          "EVM_PRIVATE_KEY_MAINNET": ARN + "facilitator-evm-mainnet-private-key-DDDDDD:private_key::"}
    new, changes = t.derive_task_definition(CURRENT, value_from=vf)
    secrets = {s["name"]: s["valueFrom"] for s in new["containerDefinitions"][1]["secrets"]}
    assert secrets["EVM_PRIVATE_KEY_TESTNET"].endswith("testnet-private-key-CCCCCC:private_key::")
    assert secrets["EVM_PRIVATE_KEY_MAINNET"].endswith("mainnet-private-key-DDDDDD:private_key::")
    assert secrets["RPC_URL_BASE_SEPOLIA"] == ARN + "rpc-testnet-BBBBBB:base-sepolia::"
    assert len(changes) == 2 and any("added" in c for c in changes)
    assert "secrets" not in new["containerDefinitions"][0]
    # applying the same map again: nothing left to change
    assert t.derive_task_definition({**new, "family": "facilitator-production"}, value_from=vf)[1] == []


def test_same_definition_ignores_order_of_environment_and_tags():
    a = t.registerable(CURRENT)
    b = copy.deepcopy(a)
    b["containerDefinitions"][1]["secrets"].reverse()
    b["tags"] = [{"key": "x", "value": "y"}]
    assert t.same_definition(a, b)


def test_derive_without_the_named_container_fails():
    with pytest.raises(t.DeriveError, match="no container named 'app'"):
        t.derive_task_definition(CURRENT, image=NEW_IMAGE, container_name="app")


@pytest.mark.parametrize("a,b,expected", [
    ("1.68.0", "1.47.0", 1), ("v1.68.0", "1.68.0", 0), ("1.9.0", "1.10.0", -1), ("2.0.0", "v10.0.0", -1),
    ("1.2.0-rc.1", "1.2.0", -1), ("1.2.0-rc.2", "1.2.0-rc.10", -1), ("1.2.0-alpha", "1.2.0-beta", -1),
    ("1.2.3+build5", "1.2.3", 0),
])
def test_compare_versions(a, b, expected):
    assert t.compare_versions(a, b) == expected


@pytest.mark.parametrize("bad", ["dev", "latest", "1.2", "", None, "1.2.3.4", "v"])
def test_parse_version_rejects(bad):
    with pytest.raises(t.VersionError):
        t.parse_version(bad)


@pytest.mark.parametrize("image,version", [
    ("127.0.0.1:5001/facilitator:1.1.0", "1.1.0"),
    ("127.0.0.1:5001/facilitator:v1.1.0", "1.1.0"),
    ("1.dkr.ecr.us-east-2.amazonaws.com/facilitator:1.68.0-abc1234", "1.68.0"),
    ("reg/facilitator:1.2.0-rc.1", "1.2.0-rc.1"),
    ("reg/facilitator:latest", None),
    ("reg/facilitator@sha256:" + "a" * 64, None),
    ("reg:5000/facilitator", None),
])
def test_version_from_image(image, version):
    assert t.version_from_image(image) == version


def test_downgrade_refused_unless_allowed():
    ok, msg = t.downgrade_check("1.68.0", "1.47.0")
    assert not ok and "refusing to downgrade 1.68.0 -> 1.47.0" in msg and "allow_downgrade=true" in msg
    ok, msg = t.downgrade_check("v1.68.0", "1.47.0", allow_downgrade=True)
    assert ok and "DOWNGRADE" in msg


def test_upgrade_same_and_unknown_running_version():
    assert t.downgrade_check("1.47.0", "v1.68.0") == (True, "upgrade 1.47.0 -> 1.68.0")
    assert t.downgrade_check("1.68.0", "1.68.0")[0]
    ok, msg = t.downgrade_check("dev", "1.68.0")
    assert ok and "unknown" in msg
    assert not t.downgrade_check("1.0.0", "dev")[0]


def test_taskdef_summary_reports_the_named_container():
    s = t.taskdef_summary(CURRENT, "facilitator")
    assert s == {"arn": CURRENT["taskDefinitionArn"], "revision": 7, "family_revision": "facilitator-production:7",
                 "image": "1.dkr.ecr.us-east-2.amazonaws.com/facilitator:1.68.0-abc1234", "version": "1.68.0"}
    with pytest.raises(t.DeriveError, match="no container named 'api'"):
        t.taskdef_summary(CURRENT, "api")
    # a revision registered elsewhere (rollout's previous / target) is reported, not refused
    missing = t.taskdef_summary(CURRENT, "api", missing_ok=True)
    assert (missing["family_revision"], missing["image"], missing["version"]) == ("facilitator-production:7", None, None)


def test_a_derived_revision_never_inherits_the_verified_tag():
    """Found by the crash matrix: register-task-definition got the current revision's tags, so a new, never
    verified revision carried facilitator-ops:verified and rollback.yml could go back to it."""
    from ansible.module_utils.facilitator_ops.ecs.taskdef import derive_task_definition

    current = {"family": "facilitator-production", "revision": 7,
               "containerDefinitions": [{"name": "facilitator", "image": "r/facilitator:1.0.0"}]}
    tags = [{"key": "team", "value": "ops"}, {"key": "facilitator-ops:verified", "value": "yes"},
            {"key": "facilitator-ops:version", "value": "1.0.0"}]
    new, _ = derive_task_definition(current, image="r/facilitator:1.1.0", tags=tags)
    assert new["tags"] == [{"key": "team", "value": "ops"}]
