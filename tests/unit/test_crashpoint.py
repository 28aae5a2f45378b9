"""The test-only crash points are inert unless armed, count one write per module call, and kill the run's
process group (and the module's own) at the chosen write."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from ansible.module_utils.facilitator_ops.common import crashpoint

TESTS = Path(__file__).resolve().parents[1]


def _fresh(monkeypatch):
    monkeypatch.setattr(crashpoint, "_counted", False)


def test_inert_without_the_environment(monkeypatch, tmp_path):
    _fresh(monkeypatch)
    monkeypatch.delenv(crashpoint.ENV_DIR, raising=False)
    crashpoint.wrote("anything")
    assert not crashpoint.active() and list(tmp_path.iterdir()) == []


def test_counts_the_first_write_of_a_module_call_only(monkeypatch, tmp_path):
    _fresh(monkeypatch)
    monkeypatch.setenv(crashpoint.ENV_DIR, str(tmp_path))
    (tmp_path / "writes.log").write_text("1\tearlier call\n")
    crashpoint.wrote("create")
    crashpoint.wrote("tag")  # same module call: not a second point
    assert (tmp_path / "writes.log").read_text().splitlines() == ["1\tearlier call", "2\tcreate"]


def test_kills_the_playbook_group_and_its_own_at_the_chosen_write(tmp_path):
    """A stand-in 'playbook' (its own session) starts a 'module' in another session, as Ansible's worker
    does; the module's second write kills both groups before the module can print 'returned'."""
    module = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(TESTS)!r}); import conftest
        from ansible.module_utils.facilitator_ops.common import crashpoint
        crashpoint.wrote("second write")
        print("returned", flush=True)
    """)
    playbook = textwrap.dedent(f"""
        import subprocess, sys, time
        subprocess.run([sys.executable, "-c", {module!r}], start_new_session=True)
        print("playbook went on", flush=True)
        time.sleep(30)
    """)
    (tmp_path / "writes.log").write_text("1\tfirst write\n")
    env = dict(os.environ, **{crashpoint.ENV_DIR: str(tmp_path), crashpoint.ENV_AT: "2"})
    proc = subprocess.Popen([sys.executable, "-c", playbook], env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    (tmp_path / "playbook.pid").write_text(str(proc.pid))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -9 and "returned" not in out and "playbook went on" not in out
    assert (tmp_path / "killed").exists()
    assert (tmp_path / "writes.log").read_text().splitlines()[-1] == "2\tsecond write"
