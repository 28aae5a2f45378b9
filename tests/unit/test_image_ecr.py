"""ECR authorization token parsing and the docker config entry, against
botocore's Stubber with a recorded GetAuthorizationToken response (moto's
token is not shaped like a real one: its password is short and static)."""
from __future__ import annotations

import base64
import datetime
import json
import os
import stat

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.facilitator_ops.image import ecr as e
from ansible.module_utils.facilitator_ops.local_stack import seed as local_seed

# Shape of a real response (token shortened; a real password is a ~2 KB
# base64 JSON envelope {"payload":..,"datakey":..,"version":"2","type":"DATA_KEY","expiration":..}).
PASSWORD = "eyJwYXlsb2FkIjoiQ2FuYXJ5UGF5bG9hZCIsImRhdGFrZXkiOiJDYW5hcnlEYXRhS2V5IiwidmVyc2lvbiI6IjIiLCJ0eXBlIjoiREFUQV9LRVkiLCJleHBpcmF0aW9uIjoxNzAwMDAwMDAwfQ=="
RECORDED = {
    "authorizationData": [{
        "authorizationToken": base64.b64encode(f"AWS:{PASSWORD}".encode()).decode(),
        "expiresAt": datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.timezone.utc),
        "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-2.amazonaws.com",
    }],
    "ResponseMetadata": {"HTTPStatusCode": 200},
}


@pytest.fixture
def ecr():
    client = boto3.client("ecr", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        yield client, stub


def test_token_parsing_recorded_ecr_response(ecr):
    client, stub = ecr
    stub.add_response("get_authorization_token", RECORDED, {})
    creds = e.fetch_credentials(client)
    stub.assert_no_pending_responses()
    assert len(creds) == 1
    c = creds[0]
    assert c.registry == "123456789012.dkr.ecr.us-east-2.amazonaws.com"
    assert c.username == "AWS" and c.password == PASSWORD
    assert c.expires_at == "2026-11-28T09:00:00+00:00"
    assert PASSWORD not in repr(c) and PASSWORD not in str(c) and PASSWORD not in json.dumps(c.public())
    assert base64.b64decode(c.docker_auth()).decode() == f"AWS:{PASSWORD}"


def test_registry_ids_are_passed_recorded_ecr_response(ecr):
    client, stub = ecr
    stub.add_response("get_authorization_token", RECORDED, {"registryIds": ["123456789012"]})
    assert e.fetch_credentials(client, ["123456789012"])[0].username == "AWS"


def test_denied_is_a_client_error_recorded_ecr_response(ecr):
    client, stub = ecr
    stub.add_client_error("get_authorization_token", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(Exception) as err:
        e.fetch_credentials(client)
    assert "AccessDeniedException" in str(err.value)


@pytest.mark.parametrize("token", ["not base64!", base64.b64encode(b"no-colon").decode(),
                                   base64.b64encode(b"AWS:").decode(), ""])
def test_malformed_tokens_fail_without_echoing_them(token):
    with pytest.raises(e.EcrTokenError) as err:
        e.parse_authorization({"authorizationData": [{"authorizationToken": token, "proxyEndpoint": "https://r"}]})
    assert token == "" or token not in str(err.value)


def test_empty_response():
    with pytest.raises(e.EcrTokenError, match="no authorization data"):
        e.parse_authorization({"authorizationData": []})


def test_pick_credential():
    creds = e.parse_authorization(RECORDED)
    assert e.pick_credential(creds, "127.0.0.1:5001") is creds[0]  # the only one: local override
    two = creds + [e.EcrCredential("999.dkr.ecr.eu-west-1.amazonaws.com", "https://x", "AWS", "p", "")]
    assert e.pick_credential(two, "999.dkr.ecr.eu-west-1.amazonaws.com") is two[1]
    with pytest.raises(e.EcrTokenError):
        e.pick_credential(two, "nope")


def test_docker_config_merge_and_write(tmp_path):
    cred = e.parse_authorization(RECORDED)[0]
    cfg = {"auths": {"other.example": {"auth": "eA=="}}, "credHelpers": {cred.registry: "ecr-login"}}
    new, changed = e.merge_docker_auth(cfg, cred.registry, cred.docker_auth())
    assert changed and new["auths"]["other.example"] == {"auth": "eA=="}
    assert cred.registry not in new["credHelpers"] and cfg["credHelpers"]  # input untouched
    assert e.merge_docker_auth(new, cred.registry, cred.docker_auth())[1] is False
    path = tmp_path / "docker" / "config.json"
    e.write_docker_config(str(path), new)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert e.read_docker_config(str(path)) == new
    assert e.read_docker_config(str(tmp_path / "missing.json")) == {}


def test_docker_config_path():
    assert e.docker_config_path(None, {"DOCKER_CONFIG": "/d"}) == "/d/config.json"
    assert e.docker_config_path("/x.json", {}) == "/x.json"


def test_check_key_default_is_the_public_anvil_key():
    """The image check's signer (role default) is anvil's public account 2, holding nothing."""
    import yaml

    from pathlib import Path

    defaults = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/image_build/defaults/main.yml").read_text())
    key = defaults["image_build_check_env"]["EVM_PRIVATE_KEY_TESTNET"]
    assert key.removeprefix("0x").lower() == local_seed.evm_wallet(2)["private_key"].removeprefix("0x").lower()
