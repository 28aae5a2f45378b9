"""The run lock (cutover, deploy, rotation, secrets migration): conditional writes on one DynamoDB item
(recorded-response tests)."""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY
from botocore.stub import Stubber

from ansible.module_utils.facilitator_ops.common import lock as lock

TABLE, LOCK_ID, NOW = "facilitator-ops-locks", "facilitator.ultravioletadao.xyz", 1_800_000_000.0


@pytest.fixture
def ddb():
    client = boto3.client("dynamodb", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def item(**fields):
    out = {"lock_id": {"S": LOCK_ID}}
    for k, v in fields.items():
        out[k] = {"N": str(v)} if isinstance(v, (int, float)) else {"S": v}
    return out


def test_recorded_acquire_free_lock_is_conditional_on_no_token(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(last_stage="10", clean_bake_stage="10")})
    stub.add_response("update_item", {}, {
        "TableName": TABLE, "Key": {"lock_id": {"S": LOCK_ID}}, "UpdateExpression": ANY,
        "ConditionExpression": "attribute_not_exists(#token)", "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    out = lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW, token="t1")
    assert out["token"] == "t1" and out["expires_at"] == int(NOW + 600) and out["broke"] is None
    assert out["state"] == {"last_stage": "10", "clean_bake_stage": "10"}


def test_recorded_held_lock_names_the_holder(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="bob@desk", token="tb", acquired_at="2027-01-15T08:00:00Z", expires_at=int(NOW + 1200))})
    with pytest.raises(lock.LockHeld, match=r"held by bob@desk since 2027-01-15T08:00:00Z, expires .* \(in 20 min 0 s\)"):
        lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW)


def test_recorded_expired_lock_needs_break_lock_yes(ddb):
    client, stub = ddb
    stale = item(owner="bob@desk", token="tb", acquired_at="2027-01-15T07:00:00Z", expires_at=int(NOW - 60))
    stub.add_response("get_item", {"Item": stale})
    with pytest.raises(lock.LockHeld, match="EXPIRED.*break_lock=yes"):
        lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW)
    stub.add_response("get_item", {"Item": stale})
    stub.add_response("update_item", {}, {
        "TableName": TABLE, "Key": {"lock_id": {"S": LOCK_ID}}, "UpdateExpression": ANY,
        "ConditionExpression": "#token = :old", "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    out = lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW, break_lock="yes")
    assert out["broke"]["owner"] == "bob@desk"


def test_recorded_live_lock_is_not_broken_by_yes(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="bob@desk", token="tb", acquired_at="x", expires_at=int(NOW + 60))})
    with pytest.raises(lock.LockHeld, match="emergency rollback only"):
        lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW, break_lock="yes",
                     force_hint="(emergency rollback only) -e stage=0 -e break_lock=force")


def test_recorded_lost_race_is_reported_as_held(ddb):
    client, stub = ddb
    stub.add_response("get_item", {})
    stub.add_client_error("update_item", service_error_code="ConditionalCheckFailedException", http_status_code=400)
    stub.add_response("get_item", {"Item": item(owner="bob@desk", token="tb", acquired_at="x", expires_at=int(NOW + 60))})
    with pytest.raises(lock.LockHeld, match="bob@desk"):
        lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW)


def test_recorded_release_keeps_the_stage_record_and_needs_our_token(ddb):
    client, stub = ddb
    stub.add_response("update_item", {}, {
        "TableName": TABLE, "Key": {"lock_id": {"S": LOCK_ID}},
        "UpdateExpression": ("SET last_stage = :last_stage, last_result = :last_result, last_at = :last_at, "
                             "clean_bake_stage = :cbs, clean_bake_at = :last_at REMOVE #owner, #token, acquired_at, expires_at, "
                             "holder_host, holder_pid, holder_start, holder_ns, holder_uid"),
        "ConditionExpression": "#token = :token", "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    lock.release(client, TABLE, LOCK_ID, "t1", {"last_stage": "100", "last_result": "changed", "clean_bake_stage": "100"}, now=NOW)
    stub.add_client_error("update_item", service_error_code="ConditionalCheckFailedException", http_status_code=400)
    stub.add_response("get_item", {"Item": item(owner="bob@desk", token="tb", acquired_at="x", expires_at=int(NOW + 60))})
    with pytest.raises(lock.LockLost, match="bob@desk"):
        lock.release(client, TABLE, LOCK_ID, "t1", {}, now=NOW)


def test_recorded_renew_detects_a_broken_lock(ddb):
    client, stub = ddb
    stub.add_client_error("update_item", service_error_code="ConditionalCheckFailedException", http_status_code=400)
    stub.add_response("get_item", {"Item": item(owner="carol@ops", token="tc", acquired_at="x", expires_at=int(NOW + 60))})
    with pytest.raises(lock.LockLost, match="taken over.*carol@ops"):
        lock.renew(client, TABLE, LOCK_ID, "t1", 600, now=NOW)


def test_recorded_missing_table_is_created_on_demand(ddb):
    client, stub = ddb
    stub.add_client_error("describe_table", service_error_code="ResourceNotFoundException", http_status_code=400)
    stub.add_response("create_table", {}, {"TableName": TABLE, "KeySchema": [{"AttributeName": "lock_id", "KeyType": "HASH"}],
                                           "AttributeDefinitions": [{"AttributeName": "lock_id", "AttributeType": "S"}],
                                           "BillingMode": "PAY_PER_REQUEST"})
    assert lock.ensure_table(client, TABLE, create=True, wait=False) is True
    stub.add_client_error("describe_table", service_error_code="ResourceNotFoundException", http_status_code=400)
    assert lock.ensure_table(client, TABLE, create=True, check_mode=True) is False


def _dead_pid():
    """A pid that runs nothing right now."""
    import os

    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def _here():
    """The holder identity a run in this process records (pid namespace, uid)."""
    ident = lock.holder_identity()
    return {"holder_ns": ident["ns"], "holder_uid": str(ident["uid"])}


def test_recorded_lock_of_a_killed_run_on_this_host_is_taken_over(ddb):
    """kill -9 leaves the lock behind: the next run on the same host sees its holder is gone and takes it."""
    import socket

    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="ana@laptop", token="tk", acquired_at="x", expires_at=int(NOW + 3000),
                                                holder_host=socket.gethostname(), holder_pid=_dead_pid(), holder_start="123",
                                                **_here())})
    stub.add_response("update_item", {}, {
        "TableName": TABLE, "Key": {"lock_id": {"S": LOCK_ID}}, "UpdateExpression": ANY,
        "ConditionExpression": "#token = :old", "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    out = lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW, purpose="deploy",
                       holder={"host": socket.gethostname(), "pid": 42, "start": 7})
    assert out["broke"]["owner"] == "ana@laptop" and out["broke"]["why"].startswith("its run is gone")


def test_recorded_live_holder_on_this_host_is_not_taken_over(ddb):
    import os
    import socket

    client, stub = ddb
    me = os.getpid()
    stub.add_response("get_item", {"Item": item(owner="ana@laptop", token="tk", acquired_at="2027-01-15T08:00:00Z",
                                                expires_at=int(NOW + 3000), holder_host=socket.gethostname(),
                                                holder_pid=me, holder_start=str(lock.process_start(me)))})
    with pytest.raises(lock.LockHeld, match=r"^deploy lock on .* held by ana@laptop since 2027-01-15T08:00:00Z"):
        lock.acquire(client, TABLE, LOCK_ID, "bob@laptop", 600, now=NOW, purpose="deploy")


def test_recorded_holder_on_another_host_is_not_taken_over(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="bob@desk", token="tb", acquired_at="x", expires_at=int(NOW + 60),
                                                holder_host="some-other-host", holder_pid=_dead_pid(), holder_start="1")})
    with pytest.raises(lock.LockHeld, match="bob@desk"):
        lock.acquire(client, TABLE, LOCK_ID, "ana@laptop", 600, now=NOW)


def test_pid_reuse_is_not_a_live_holder():
    import os
    import socket

    me = os.getpid()
    assert not lock.holder_gone({"holder_host": socket.gethostname(), "holder_pid": me,
                                 "holder_start": str(lock.process_start(me)), **_here()})
    assert lock.holder_gone({"holder_host": socket.gethostname(), "holder_pid": me, "holder_start": "1", **_here()})


def test_run_process_finds_the_topmost_ansible_playbook(tmp_path):
    """The module's worker is a fork of ansible-playbook: the lock records the topmost such process."""
    import subprocess
    import sys

    tests_dir = Path(__file__).resolve().parents[1]
    probe = (f"import sys; sys.path.insert(0, {str(tests_dir)!r}); import conftest; "
             "from ansible.module_utils.facilitator_ops.common import lock; print(lock.run_process()[0])")
    script = tmp_path / "ansible-playbook"  # a stand-in whose command line names ansible-playbook
    script.write_text("import subprocess, sys\n"
                      "print(subprocess.run([sys.executable, '-c', sys.argv[1]], capture_output=True, text=True).stdout)\n")
    proc = subprocess.Popen([sys.executable, str(script), probe], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=60)
    assert int(out.strip()) == proc.pid


# ---- issue 18 (8c): a holder whose /proc cannot be read is alive, never stolen silently


def _gone_holder(**over):
    import socket

    return {"holder_host": socket.gethostname(), "holder_pid": _dead_pid(), "holder_start": "123", **_here(), **over}


def test_8c_holder_is_gone_only_when_proven():
    """The baseline: same host, same pid namespace, same uid, /proc says no such pid: gone."""
    assert lock.holder_gone(_gone_holder())


def test_8c_holder_whose_proc_cannot_be_read_is_alive(monkeypatch):
    """A hardened host: /proc/<pid> of the holder cannot be read (EACCES) -> alive, not taken over."""
    import builtins

    real_open = builtins.open
    dead = _gone_holder()

    def fake_open(path, *a, **kw):
        if str(path) == f"/proc/{dead['holder_pid']}/stat":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert not lock.holder_gone(dead)


def test_8c_holder_in_another_pid_namespace_on_this_host_is_alive():
    """Two EE containers on one host (same host name, own pid namespaces): the other's pid is not in our /proc,
    which proves nothing."""
    assert not lock.holder_gone(_gone_holder(holder_ns="pid:[1]"))


def test_8c_holder_of_another_user_under_hidepid_is_alive(monkeypatch):
    """hidepid=2 hides other users' processes as if absent: a holder of another uid is alive (unless we are root)."""
    import os

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert not lock.holder_gone(_gone_holder(holder_uid="1001"))


def test_8c_lock_without_a_recorded_namespace_is_alive():
    """A holder recorded without its pid namespace (an older run, or one where /proc could not tell) is alive."""
    import socket

    assert not lock.holder_gone({"holder_host": socket.gethostname(), "holder_pid": _dead_pid(), "holder_start": "1"})


def test_8c_recorded_unreadable_holder_is_refused_not_broken(ddb, monkeypatch):
    """acquire() on a lock whose holder this run cannot see: LockHeld naming the holder, no write."""
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="ana@ee-1", token="tk", acquired_at="x", expires_at=int(NOW + 3000),
                                                **{k: v for k, v in _gone_holder(holder_ns="pid:[1]").items()})})
    with pytest.raises(lock.LockHeld, match="ana@ee-1"):
        lock.acquire(client, TABLE, LOCK_ID, "bob@ee-2", 600, now=NOW, purpose="deploy")


# ---- issue 18 (8a): the fence, a consistent read right before each write


def test_8a_fence_passes_while_our_token_holds_the_lock(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="ana", token="ours", expires_at=int(NOW + 60))},
                      {"TableName": TABLE, "Key": {"lock_id": {"S": LOCK_ID}}, "ConsistentRead": True})
    assert lock.check_fence(client, TABLE, LOCK_ID, "ours", now=NOW)["token"] == "ours"


def test_8a_fence_fails_lock_lost_when_the_lock_expired(ddb):
    """A prompt left open past the TTL: the lease expired, even if nobody took it yet."""
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="ana", token="ours", expires_at=int(NOW - 1))})
    with pytest.raises(lock.LockLost, match=r"^lock lost: our deploy lock on .* EXPIRED"):
        lock.check_fence(client, TABLE, LOCK_ID, "ours", now=NOW, purpose="deploy")


def test_8a_fence_fails_lock_lost_when_the_lock_was_broken(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(owner="bob@desk", token="theirs", acquired_at="x",
                                                expires_at=int(NOW + 600))})
    with pytest.raises(lock.LockLost, match=r"^lock lost: .* held by bob@desk"):
        lock.check_fence(client, TABLE, LOCK_ID, "ours", now=NOW)


def test_8a_fence_fails_lock_lost_when_the_lock_was_released(ddb):
    client, stub = ddb
    stub.add_response("get_item", {"Item": item(last_stage="10")})
    with pytest.raises(lock.LockLost, match=r"^lock lost: .* no longer held"):
        lock.check_fence(client, TABLE, LOCK_ID, "ours", now=NOW)


def test_8a_fence_options_go_together():
    assert lock.fence_from_params({}) is None
    assert lock.fence_from_params({"lock_table": "t", "lock_name": "n", "lock_token": "k"}) == ("t", "n", "k")
    with pytest.raises(ValueError):
        lock.fence_from_params({"lock_table": "t", "lock_name": "n"})


def test_8a_a_fenced_client_checks_the_fence_before_every_write_and_never_before_a_read():
    """secrets/ and wallet/ write through the client they are handed: the fence wraps it."""
    sm = boto3.client("secretsmanager", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    checks = []

    def lost():
        checks.append(1)
        raise lock.LockLost("lock lost: our secrets lock on x EXPIRED")

    lost.fenced = True
    client = lock.fenced(sm, lost)
    with Stubber(sm) as stub:
        stub.add_response("describe_secret", {"Name": "s"}, {"SecretId": "s"})
        assert client.describe_secret(SecretId="s")["Name"] == "s" and checks == []
        with pytest.raises(lock.LockLost):
            client.put_secret_value(SecretId="s", SecretString="x")   # no response recorded: never sent
        stub.assert_no_pending_responses()
    assert checks == [1]
    unfenced = lambda: None  # noqa: E731
    unfenced.fenced = False
    assert lock.fenced(sm, unfenced) is sm


def test_8a_wallet_secrets_are_written_through_the_fence(monkeypatch):
    """A wallet module given the run's lock (LOCK_FENCE options) writes its secret through the fence; without
    them, through the plain client."""
    from unittest import mock

    from ansible.module_utils.facilitator_ops.wallet import aws as wallet_aws

    plain = object()
    monkeypatch.setattr(wallet_aws, "secretsmanager_client", lambda module, region: plain)
    arn = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-evm-testnet-private-key-AbCdEf"
    fenced_module = mock.Mock(params={"secret_arn": arn, "lock_table": "t", "lock_name": "wallet_rotation/c/s",
                                      "lock_token": "tk", "lock_region": None})
    ws = wallet_aws.wallet_secret(fenced_module, "evm")
    assert isinstance(ws.client, lock.FencedClient) and ws.client._client is plain
    assert wallet_aws.wallet_secret(mock.Mock(params={"secret_arn": arn}), "evm").client is plain
