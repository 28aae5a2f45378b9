"""Kill a playbook run with SIGKILL at a chosen point, deterministically.

    census = run_crashing("deploy.yml", tmp_path, extra_vars=ev)            # counts, kills nothing
    census.writes          # [(1, "run_lock acquire ..."), (2, "ecs_taskdef_derive register ..."), ...]
    run = run_crashing("deploy.yml", tmp_path, extra_vars=ev, at_write=2)  # dies inside write call 2
    assert run.killed

Two kinds of points:
- at_write=N: inside the Nth module call that changes the world, right after its
  AWS or chain write and before it returns (module_utils/facilitator_ops/common/crashpoint.py);
- after_task=N: right after the Nth task result (callback_plugins/crash_after_task.py).
Either way the whole ansible-playbook process group dies (and the module's own
group: Ansible's worker runs it in a session of its own), as when a laptop dies.
Both hooks are inert unless FACILITATOR_OPS_CRASH_DIR is set, which only this
helper does. Output, audit, state and temp dirs are those of helpers.playbook.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.playbook import REPO
from helpers.playbook import PlaybookRun
from helpers.playbook import ansible_playbook_bin

CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


def new_dirs(tmp_path):
    base = Path(tmp_path) / f"run-{len(list(Path(tmp_path).glob('run-*')))}"
    dirs = {k: base / v for k, v in (("local_temp", "ansible-local"), ("remote_temp", "ansible-remote"),
                                     ("tmpdir", "tmp"), ("audit", "audit"), ("state", "state"))}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


@dataclass
class CrashRun(PlaybookRun):
    killed: bool = False
    writes: list = None
    tasks: list = None
    seconds: float = 0.0


def _lines(path):
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if parts and parts[0].isdigit():
            out.append((int(parts[0]), *parts[1:]))
    return out


def run_crashing(playbook, tmp_path, extra_vars=None, at_write=None, after_task=None, dirs=None, args=(),
                 env=None, timeout=900, verbosity="-v"):
    """Run `playbook` from the repository root with the crash hooks armed (see the module docstring).
    Returns a CrashRun (killed, writes, tasks, rc, output, dirs)."""
    dirs = {k: Path(v) for k, v in (dirs or new_dirs(tmp_path)).items()}
    crash_dir = Path(dirs["tmpdir"]).parent / f"crash-{time.monotonic_ns()}"
    crash_dir.mkdir(parents=True)
    cmd = [ansible_playbook_bin(), str(playbook)] + ([verbosity] if verbosity else [])
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    run_env = dict(os.environ)
    run_env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(dirs["local_temp"]), ANSIBLE_REMOTE_TEMP=str(dirs["remote_temp"]),
        TMPDIR=str(dirs["tmpdir"]), FACILITATOR_OPS_AUDIT_DIR=str(dirs["audit"]),
        FACILITATOR_OPS_STATE_DIR=str(dirs["state"]), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
        PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS), ANSIBLE_CALLBACKS_ENABLED="crash_after_task",
        FACILITATOR_OPS_CRASH_DIR=str(crash_dir),
    )
    run_env.pop("FACILITATOR_OPS_CRASH_AT_WRITE", None)
    run_env.pop("FACILITATOR_OPS_CRASH_AFTER_TASK", None)
    if at_write is not None:
        run_env["FACILITATOR_OPS_CRASH_AT_WRITE"] = str(int(at_write))
    if after_task is not None:
        run_env["FACILITATOR_OPS_CRASH_AFTER_TASK"] = str(int(after_task))
    run_env.update(env or {})
    t0 = time.monotonic()
    log = crash_dir / "output.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=run_env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        (crash_dir / "playbook.pid").write_text(str(proc.pid))
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            raise
    killed = (crash_dir / "killed").exists()
    if killed:
        # what the module's worker group left (nothing should outlive a -9, as on a dead laptop)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    text = log.read_text(errors="replace")
    return CrashRun(cmd, proc.returncode, text, "", {k: str(v) for k, v in dirs.items()}, killed=killed,
                    writes=_lines(crash_dir / "writes.log"), tasks=_lines(crash_dir / "tasks.log"),
                    seconds=round(time.monotonic() - t0, 1))
