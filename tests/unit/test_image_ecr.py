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


def test_pick_credential_only_for_the_pinned_host():
    creds = e.parse_authorization(RECORDED)
    assert e.pick_credential(creds, "123456789012.dkr.ecr.us-east-2.amazonaws.com") is creds[0]
    # no fallback to "the only token": another host never gets it
    with pytest.raises(e.EcrTokenError, match="no credential for registry 127.0.0.1:5001") as err:
        e.pick_credential(creds, "127.0.0.1:5001")
    assert PASSWORD not in str(err.value)
    two = creds + [e.EcrCredential("999999999999.dkr.ecr.eu-west-1.amazonaws.com", "https://x", "AWS", "p", "")]
    assert e.pick_credential(two, "999999999999.dkr.ecr.eu-west-1.amazonaws.com") is two[1]
    with pytest.raises(e.EcrTokenError):
        e.pick_credential(two, None)


def test_credential_for_asks_the_registry_id_of_the_ecr_host_recorded_ecr_response(ecr):
    client, stub = ecr
    stub.add_response("get_authorization_token", RECORDED, {"registryIds": ["123456789012"]})
    cred = e.credential_for(client, "127.0.0.1:5001", "123456789012.dkr.ecr.us-east-2.amazonaws.com")
    assert cred.password == PASSWORD
    stub.add_response("get_authorization_token", RECORDED, {})
    with pytest.raises(e.EcrTokenError, match="127.0.0.1:5001"):
        e.credential_for(client, "127.0.0.1:5001")  # the registry itself is not the ECR host the token is for
    assert e.registry_id_of("123456789012.dkr.ecr.us-east-2.amazonaws.com") == "123456789012"
    assert e.registry_id_of("127.0.0.1:5001") is None


def test_docker_config_merge_and_write(tmp_path):
    cred = e.parse_authorization(RECORDED)[0]
    cfg = {"auths": {"other.example": {"auth": "eA=="}}}
    new, changed = e.merge_docker_auth(cfg, cred.registry, cred.docker_auth())
    assert changed and new["auths"]["other.example"] == {"auth": "eA=="}
    assert "auths" in cfg and cred.registry not in cfg["auths"]  # input untouched
    assert e.merge_docker_auth(new, cred.registry, cred.docker_auth())[1] is False
    path = tmp_path / "docker" / "config.json"
    e.write_docker_config(str(path), new)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert e.read_docker_config(str(path)) == new
    assert e.read_docker_config(str(tmp_path / "missing.json")) == {}


def test_creds_store_config_uses_the_helper_or_fails_clearly(tmp_path):
    """A docker config with credsStore/credHelpers: the credential goes through
    docker-credential-<helper> (on its stdin, never argv), or the run fails naming the
    missing helper. The fake helper below stores into a file of the test's tmp dir."""
    cred = e.parse_authorization(RECORDED)[0]
    assert e.credential_helper({"credsStore": "desktop"}, cred.registry) == "desktop"
    assert e.credential_helper({"credsStore": "desktop", "credHelpers": {cred.registry: "ecr-login"}},
                               cred.registry) == "ecr-login"
    assert e.credential_helper({"auths": {}}, cred.registry) is None
    with pytest.raises(e.EcrTokenError, match="docker-credential-desktop is not on PATH") as err:
        e.store_with_helper("desktop", cred.registry, cred.username, cred.password, path_lookup=lambda _: None)
    assert PASSWORD not in str(err.value)

    store = tmp_path / "store.json"
    helper = tmp_path / "docker-credential-fake"
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
path = {str(store)!r}
data = json.load(open(path)) if __import__("os").path.exists(path) else {{}}
if sys.argv[1] == "store":
    doc = json.load(sys.stdin); data[doc["ServerURL"]] = doc; json.dump(data, open(path, "w"))
elif sys.argv[1] == "get":
    url = sys.stdin.read().strip()
    if url not in data: print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps({{"Username": data[url]["Username"], "Secret": data[url]["Secret"]}}))
""")
    helper.chmod(0o755)
    calls = []

    def runner(argv, **kw):
        import subprocess

        calls.append(argv)
        return subprocess.run(argv, **kw)

    lookup = lambda name: str(helper) if name == "docker-credential-fake" else None  # noqa: E731
    assert e.store_with_helper("fake", cred.registry, cred.username, cred.password, runner, lookup) is True
    assert json.loads(store.read_text())[cred.registry]["Secret"] == PASSWORD
    assert e.store_with_helper("fake", cred.registry, cred.username, cred.password, runner, lookup) is False
    assert all(PASSWORD not in " ".join(a) for a in calls)


def test_docker_config_path():
    assert e.docker_config_path(None, {"DOCKER_CONFIG": "/d"}) == "/d/config.json"
    assert e.docker_config_path("/x.json", {}) == "/x.json"


def test_check_key_default_is_the_public_anvil_key():
    """The image check's signer (role default) is anvil's public account 8: no environment's
    wallet, not even the local stack's seeded ones (accounts 2 and 3)."""
    import yaml

    from pathlib import Path

    defaults = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/image_build/defaults/main.yml").read_text())
    key = defaults["image_build_check_env"]["EVM_PRIVATE_KEY_TESTNET"]
    assert key.removeprefix("0x").lower() == local_seed.evm_wallet(8)["private_key"].removeprefix("0x").lower()
