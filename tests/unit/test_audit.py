"""The audit log: append-only, never de-duplicated, never key material."""
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils.facilitator_ops.common import audit


def test_identical_records_are_both_kept(tmp_path):
    """lineinfile would keep one of two identical lines: an audit log keeps every run."""
    path = tmp_path / "audit" / "deploy.jsonl"
    rec = {"ts": "2026-11-28T10:00:00Z", "capability": "ecs_deploy", "step": "start"}
    audit.append(str(path), rec)
    audit.append(str(path), rec)
    assert audit.read(str(path)) == [rec, rec]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_key_material_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "wallet_rotation.jsonl"
    with pytest.raises(audit.AuditError, match=r"data\.wallets\[0\]\.private_key"):
        audit.append(str(path), {"data": {"wallets": [{"address": "0xabc", "private_key": "0x..."}]}})
    assert not path.exists()


def test_build_puts_time_and_operator_first():
    rec = audit.build({"step": "end"}, "dns_cutover")
    assert list(rec)[:3] == ["ts", "capability", "operator"] and rec["step"] == "end"
    assert "@" in rec["operator"]
    json.dumps(rec)
