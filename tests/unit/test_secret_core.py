"""Pure planning / verification logic of the secrets modules."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import SecretValue
from ansible.module_utils.facilitator_ops.secrets.core import metadata_changes
from ansible.module_utils.facilitator_ops.secrets.core import plan_copy
from ansible.module_utils.facilitator_ops.secrets.core import plan_key
from ansible.module_utils.facilitator_ops.secrets.core import preserved_keys
from ansible.module_utils.facilitator_ops.secrets.core import source_text
from ansible.module_utils.facilitator_ops.secrets.core import value_from
from ansible.module_utils.facilitator_ops.secrets.core import verify_document

EVM_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
EVM_ADDR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
SOL_KEY = "r38iF3qC7GoCKxu31vFsfMZiggjcg1sPEYxfsbL37YcGvbWEupLY41kT4pWBcUXRprmWNDbMk1S7jehqpC7XbQ3"
SOL_ADDR = "CY2ynG6ov9czuhfbmKxEDXMFwosxSSQqTQk78ebbfbHy"


def s(v):
    return SecretValue("string", v if isinstance(v, str) else json.dumps(v))


def test_repr_never_shows_the_value():
    v = s("super-secret-value")
    assert "super-secret" not in repr(v) and "super-secret" not in str(v)


def test_string_and_binary_with_same_bytes_differ():
    assert SecretValue("string", "abc").digest != SecretValue("binary", b"abc").digest


def test_plan_copy():
    src = s({"private_key": EVM_KEY, "address": EVM_ADDR})
    assert plan_copy(src, None, False) == ("create", src)
    assert plan_copy(src, s({"private_key": EVM_KEY, "address": EVM_ADDR}), False) == ("equal", None)
    other = s({"private_key": "0x" + "1" * 64, "address": EVM_ADDR})
    with pytest.raises(SecretError) as err:
        plan_copy(src, other, False)
    assert "overwrite is off" in str(err.value) and EVM_KEY not in str(err.value)
    assert plan_copy(src, other, True) == ("add_version", src)


def test_plan_copy_binary():
    src = SecretValue("binary", b"\x00\x01\x02")
    assert plan_copy(src, SecretValue("binary", b"\x00\x01\x02"), False)[0] == "equal"
    assert plan_copy(src, SecretValue("string", "\x00\x01\x02"), True)[0] == "add_version"


def test_plan_key_insert_update_equal_remove():
    rpc = s({"avalanche": "https://a", "polygon": "https://p"})
    action, new, before = plan_key("https://b", rpc, "base", False, False)
    assert action == "insert_key"
    assert json.loads(new.data) == {"avalanche": "https://a", "polygon": "https://p", "base": "https://b"}
    assert plan_key("https://a", rpc, "avalanche", False, False)[0] == "equal"
    with pytest.raises(SecretError, match="overwrite is off"):
        plan_key("https://x", rpc, "avalanche", False, False)
    assert plan_key("https://x", rpc, "avalanche", True, False)[0] == "update_key"
    action, new, _ = plan_key(None, rpc, "polygon", True, False, delete=True)
    assert action == "remove_key" and json.loads(new.data) == {"avalanche": "https://a"}
    assert plan_key(None, rpc, "nope", True, False, delete=True)[0] == "equal"


def test_plan_key_refuses_non_json_and_missing():
    with pytest.raises(SecretError, match="does not exist"):
        plan_key("v", None, "base", False, False)
    assert plan_key("v", None, "base", False, True)[0] == "create"
    with pytest.raises(SecretError, match="not a JSON object"):
        plan_key("v", s("plain-string"), "base", False, False)
    with pytest.raises(SecretError, match="not a JSON object"):
        plan_key("v", SecretValue("binary", b"{}"), "base", False, False)


def test_source_text():
    assert source_text(s("https://q"), None) == "https://q"
    assert source_text(s({"url": "https://q"}), "url") == "https://q"
    with pytest.raises(SecretError, match="no key 'x'"):
        source_text(s({"url": "https://q"}), "x")
    with pytest.raises(SecretError, match="binary"):
        source_text(SecretValue("binary", b"x"), None)


def test_preserved_keys_detects_damage():
    before = {"a": "1", "b": "2", "base": "old"}
    assert preserved_keys(before, {"a": "1", "b": "2", "base": "new"}, "base") == (["a", "b"], [])
    assert preserved_keys(before, {"a": "1", "base": "new"}, "base") == (["a"], ["b"])   # wiped
    assert preserved_keys(before, {"a": "X", "b": "2", "base": "new"}, "base") == (["b"], ["a"])


def test_verify_document_wallets():
    assert verify_document(s({"private_key": EVM_KEY, "address": EVM_ADDR}), wallet=True)[0] == []
    problems, facts = verify_document(s({"private_key": SOL_KEY, "address": SOL_ADDR}), wallet=True)
    assert problems == [] and facts["wallet_kind"] == "solana" and facts["address"] == SOL_ADDR
    problems, _ = verify_document(s({"private_key": EVM_KEY, "address": SOL_ADDR}), wallet=True)
    assert problems and "does not belong" in problems[0] and EVM_KEY not in problems[0]
    assert "missing key(s): address" in verify_document(s({"private_key": EVM_KEY}), wallet=True)[0][0]
    assert verify_document(s("plain"), wallet=True)[0] == ["value is not a JSON object"]
    assert verify_document(s({"base": "x"}), required_keys=["base", "avalanche"])[0] == ["missing key(s): avalanche"]
    assert verify_document(SecretValue("binary", b"x"))[0] == []


def test_value_from_and_metadata():
    arn = "arn:aws:secretsmanager:us-east-2:1:secret:x-AbCdEf"
    assert value_from(arn, "private_key") == arn + ":private_key::"
    assert value_from(arn) == arn
    meta = {"Description": "old", "Tags": [{"Key": "a", "Value": "1"}]}
    assert metadata_changes(meta, "new", {"a": "1", "b": "2"}) == {"description": "new", "tags": {"b": "2"}}
    assert metadata_changes(meta, None, {"a": "1"}) == {}
