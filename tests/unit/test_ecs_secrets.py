"""valueFrom resolution as the ECS agent does it, without network."""
import json

import pytest

from ansible.module_utils.facilitator_ops.ecs import secrets as es

ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-evm-testnet-private-key-AbCdEf"


def test_parse_plain_and_selector():
    assert es.parse_value_from(ARN)["json_key"] is None
    ref = es.parse_value_from(ARN + ":private_key:AWSPREVIOUS:")
    assert ref == {"arn": ARN, "region": "us-east-2", "json_key": "private_key",
                   "version_stage": "AWSPREVIOUS", "version_id": None}


def test_parse_refuses_ssm():
    with pytest.raises(es.ResolveError, match="only Secrets Manager"):
        es.parse_value_from("arn:aws:ssm:us-east-2:1:parameter/x")


def test_resolve_selects_keys_and_fetches_once():
    calls = []

    def fetch(region, arn, stage, vid):
        calls.append((region, arn, stage, vid))
        return json.dumps({"private_key": "0xabc", "address": "0x1"})

    out = es.resolve_secrets([
        {"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": ARN + ":private_key::"},
        {"name": "ADDR", "value_from": ARN + ":address::"},
        {"name": "WHOLE", "valueFrom": ARN},
    ], fetch)
    assert out["EVM_PRIVATE_KEY_TESTNET"] == "0xabc" and out["ADDR"] == "0x1"
    assert json.loads(out["WHOLE"])["address"] == "0x1"
    assert len(calls) == 1


def test_missing_key_names_variable_not_value():
    def fetch(*_):
        return json.dumps({"private_key": "0xSECRETVALUE"})

    with pytest.raises(es.ResolveError) as e:
        es.resolve_secrets([{"name": "RPC_URL_BASE", "valueFrom": ARN + ":base::"}], fetch)
    assert "RPC_URL_BASE" in str(e.value) and "SECRETVALUE" not in str(e.value)


def test_fetch_error_is_named():
    class Boom(Exception):
        response = {"Error": {"Code": "ResourceNotFoundException"}}

    def fetch(*_):
        raise Boom("details with 0xSECRET")

    with pytest.raises(es.ResolveError, match="ResourceNotFoundException") as e:
        es.resolve_secrets([{"name": "X", "valueFrom": ARN}], fetch)
    assert "0xSECRET" not in str(e.value)


def test_env_file_sorted_and_rejects_newlines():
    assert es.render_env_file({"B": "2", "A": "1"}) == "A=1\nB=2\n"
    with pytest.raises(es.ResolveError):
        es.render_env_file({"A": "x\ny"})
