"""Issue 18 (5): who still reads the monorepo secrets (the gate before they are retired).

The ECS calls are served by botocore's Stubber (no network): every ACTIVE task
definition of the regions involved is read, and the services of the configured
clusters name the revisions they run."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.facilitator_ops.secrets.readers import find_readers
from ansible.module_utils.facilitator_ops.secrets.readers import references
from ansible.module_utils.facilitator_ops.secrets.readers import refusal

ACCT = "123456789012"
MAINNET = {"name": "karmacadabra-facilitator-mainnet", "region": "us-east-1",
           "arn": f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:karmacadabra-facilitator-mainnet-AbCdEf"}
RPC = {"name": "karmacadabra-quicknode-base-rpc", "region": "us-east-1",
       "arn": f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:karmacadabra-quicknode-base-rpc-GhIjKl"}
NEW = f"arn:aws:secretsmanager:us-east-2:{ACCT}:secret:facilitator-evm-mainnet-private-key-MnOpQr"


@pytest.mark.parametrize("value_from,region,expected", [
    (MAINNET["arn"], "us-east-2", True),  # whole secret, cross-region: full ARN
    (MAINNET["arn"] + ":private_key::", "us-east-2", True),
    (MAINNET["arn"] + ":private_key:AWSPREVIOUS:", "us-east-1", True),
    (f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:karmacadabra-facilitator-mainnet", "us-east-2", True),  # partial
    ("karmacadabra-facilitator-mainnet", "us-east-1", True),  # a name, in the secret's own region
    ("karmacadabra-facilitator-mainnet", "us-east-2", False),  # a name elsewhere is another secret
    (f"arn:aws:ssm:us-east-1:{ACCT}:parameter/aws/reference/secretsmanager/karmacadabra-facilitator-mainnet",
     "us-east-1", True),
    ("/aws/reference/secretsmanager/karmacadabra-facilitator-mainnet", "us-east-1", True),
    (f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:karmacadabra-facilitator-mainnet-ZzZzZz", "us-east-1", False),
    (f"arn:aws:secretsmanager:us-east-1:999999999999:secret:karmacadabra-facilitator-mainnet", "us-east-1", False),
    (f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:karmacadabra-facilitator-mainnet-old-AbCdEf", "us-east-1", False),
    (NEW + ":private_key::", "us-east-2", False),
    (f"arn:aws:ssm:us-east-1:{ACCT}:parameter/karmacadabra-facilitator-mainnet", "us-east-1", False),
])
def test_references_every_form_ecs_accepts(value_from, region, expected):
    assert references(value_from, region, MAINNET) is expected


def _td(family, rev, region, secrets, status="ACTIVE", logs=None):
    c = {"name": "facilitator", "image": "x", "secrets": [{"name": n, "valueFrom": v} for n, v in secrets]}
    if logs:
        c["logConfiguration"] = {"logDriver": "awsfirelens", "secretOptions": [{"name": "apikey", "valueFrom": logs}]}
    return {"taskDefinitionArn": f"arn:aws:ecs:{region}:{ACCT}:task-definition/{family}:{rev}", "family": family,
            "revision": rev, "status": status, "containerDefinitions": [c, {"name": "otel-collector", "image": "y"}]}


@pytest.fixture
def ecs():
    clients = {r: boto3.client("ecs", region_name=r, aws_access_key_id="x", aws_secret_access_key="x")
               for r in ("us-east-1", "us-east-2")}
    stubs = {r: Stubber(c) for r, c in clients.items()}
    for s in stubs.values():
        s.activate()
    yield clients, stubs
    for s in stubs.values():
        s.assert_no_pending_responses()
        s.deactivate()


def test_issue18_5_every_reader_is_named_with_its_services(ecs):
    """The old service, the new service's previous revision (ACTIVE, no service: the way back), an
    agent's task definition reading the RPC secret through its log driver, and a service still on an
    INACTIVE revision are all readers; the new revision reading the migrated secrets is not."""
    clients, stubs = ecs
    old = _td("karmacadabra-prod-facilitator", 12, "us-east-1", [("EVM_PRIVATE_KEY_MAINNET", MAINNET["arn"] + ":private_key::")])
    agent = _td("karmacadabra-prod-validator", 3, "us-east-1", [], logs=RPC["arn"])
    prev = _td("facilitator-production", 1, "us-east-2", [("EVM_PRIVATE_KEY_MAINNET", MAINNET["arn"] + ":private_key::")])
    cur = _td("facilitator-production", 2, "us-east-2", [("EVM_PRIVATE_KEY_MAINNET", NEW + ":private_key::")])
    gone = _td("karmacadabra-prod-legacy", 7, "us-east-1", [("RPC", "karmacadabra-quicknode-base-rpc")], status="INACTIVE")
    e1, e2 = stubs["us-east-1"], stubs["us-east-2"]
    # services of the two clusters (the old cluster has a service on an INACTIVE revision)
    e1.add_response("list_services", {"serviceArns": ["arn:old-svc", "arn:legacy-svc"]}, {"cluster": "karmacadabra-prod"})
    e1.add_response("describe_services", {"services": [
        {"serviceName": "karmacadabra-prod-facilitator", "status": "ACTIVE", "taskDefinition": old["taskDefinitionArn"],
         "deployments": [{"taskDefinition": old["taskDefinitionArn"]}]},
        {"serviceName": "karmacadabra-prod-legacy", "status": "ACTIVE", "taskDefinition": gone["taskDefinitionArn"]}]},
        {"cluster": "karmacadabra-prod", "services": ["arn:old-svc", "arn:legacy-svc"]})
    e2.add_response("list_services", {"serviceArns": ["arn:new-svc"]}, {"cluster": "facilitator-production"})
    e2.add_response("describe_services", {"services": [
        {"serviceName": "facilitator-production", "status": "ACTIVE", "taskDefinition": cur["taskDefinitionArn"]}]},
        {"cluster": "facilitator-production", "services": ["arn:new-svc"]})
    # every ACTIVE task definition of both regions (paginated in us-east-1)
    e1.add_response("list_task_definitions", {"taskDefinitionArns": [old["taskDefinitionArn"]], "nextToken": "t"},
                    {"status": "ACTIVE"})
    e1.add_response("list_task_definitions", {"taskDefinitionArns": [agent["taskDefinitionArn"]]},
                    {"status": "ACTIVE", "nextToken": "t"})
    e2.add_response("list_task_definitions", {"taskDefinitionArns": [prev["taskDefinitionArn"], cur["taskDefinitionArn"]]},
                    {"status": "ACTIVE"})
    for stub, td in ((e1, old), (e1, agent), (e2, prev), (e2, cur), (e1, gone)):
        stub.add_response("describe_task_definition", {"taskDefinition": td}, {"taskDefinition": td["taskDefinitionArn"]})
    found = find_readers([MAINNET, RPC], [{"cluster": "karmacadabra-prod", "region": "us-east-1"},
                                          {"cluster": "facilitator-production", "region": "us-east-2"}],
                         lambda region: clients[region])
    named = {r["task_definition"]: r for r in found["readers"]}
    assert sorted(named) == ["facilitator-production:1", "karmacadabra-prod-facilitator:12",
                             "karmacadabra-prod-legacy:7", "karmacadabra-prod-validator:3"]
    assert named["karmacadabra-prod-facilitator:12"]["services"] == ["karmacadabra-prod/karmacadabra-prod-facilitator"]
    assert named["facilitator-production:1"]["services"] == []
    assert named["karmacadabra-prod-legacy:7"]["status"] == "INACTIVE"
    assert named["karmacadabra-prod-validator:3"]["reads"] == [
        {"secret": "karmacadabra-quicknode-base-rpc", "container": "facilitator", "variable": "log option apikey"}]
    msg = refusal(found["readers"])
    assert "\n" not in msg and msg.startswith("retirement refused: 4 task definition(s)")
    assert ("karmacadabra-prod-facilitator:12 (us-east-1, ACTIVE; service karmacadabra-prod/karmacadabra-prod-facilitator) "
            "reads karmacadabra-facilitator-mainnet (facilitator: EVM_PRIVATE_KEY_MAINNET)") in msg
    assert "facilitator-production:1 (us-east-2, ACTIVE; no service)" in msg


def test_a_missing_cluster_is_a_warning_and_no_reader_is_no_refusal(ecs):
    clients, stubs = ecs
    stubs["us-east-1"].add_client_error("list_services", service_error_code="ClusterNotFoundException",
                                        expected_params={"cluster": "karmacadabra-prod"})
    stubs["us-east-1"].add_response("list_task_definitions", {"taskDefinitionArns": []}, {"status": "ACTIVE"})
    found = find_readers([MAINNET], [{"cluster": "karmacadabra-prod", "region": "us-east-1"}],
                         lambda region: clients[region])
    assert found["readers"] == [] and found["regions"] == ["us-east-1"]
    assert "cluster karmacadabra-prod not found in us-east-1" in found["warnings"][0]
