"""Kill a playbook run with SIGKILL at a chosen point, deterministically.

    census = run_crashing("deploy.yml", tmp_path, extra_vars=ev)            # counts, kills nothing
    census.writes          # [(1, "run_lock: deploy lock on ... taken"), (2, "ecs_taskdef_derive: ..."), ...]
    run = run_crashing("deploy.yml", tmp_path, extra_vars=ev, at_write=2)  # dies inside write call 2
    assert run.killed
    runs, missed, final = kill_chain("deploy.yml", tmp_path, ev, kill_points(census), after_kill=check)

Two kinds of points:
- at_write=N: inside the Nth module call that changes the world, right after its
  AWS or chain write and before it returns (module_utils/facilitator_ops/common/crashpoint.py);
- after_task=N: right after the Nth task result (callback_plugins/crash_after_task.py);
- at_label / after_changed_task: the same, named (stable from run to run), which kill_chain uses.
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


def run_crashing(playbook, tmp_path, extra_vars=None, at_write=None, after_task=None, at_label=None,
                 after_changed_task=None, pause=None, dirs=None, args=(), env=None, timeout=900, verbosity="-v",
                 start=True):
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
    for k in ("AT_WRITE", "AFTER_TASK", "AT_LABEL", "AFTER_CHANGED_TASK", "PAUSE"):
        run_env.pop(f"FACILITATOR_OPS_CRASH_{k}", None)
    if at_write is not None:
        run_env["FACILITATOR_OPS_CRASH_AT_WRITE"] = str(int(at_write))
    if after_task is not None:
        run_env["FACILITATOR_OPS_CRASH_AFTER_TASK"] = str(int(after_task))
    if at_label is not None:
        run_env["FACILITATOR_OPS_CRASH_AT_LABEL"] = at_label
    if after_changed_task is not None:
        run_env["FACILITATOR_OPS_CRASH_AFTER_CHANGED_TASK"] = after_changed_task
    if pause is not None:
        run_env["FACILITATOR_OPS_CRASH_PAUSE"] = f"{pause[0]}={pause[1]}"
    run_env.update(env or {})
    handle = Started(cmd, run_env, dirs, crash_dir, timeout)
    return handle.wait() if start is True else handle


class Started:
    """A run started in its own session (so its whole process group can be killed); wait() -> CrashRun."""

    def __init__(self, cmd, env, dirs, crash_dir, timeout):
        self.cmd, self.dirs, self.crash_dir, self.timeout = cmd, dirs, crash_dir, timeout
        self.t0 = time.monotonic()
        self.log = crash_dir / "output.log"
        self.out = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        (crash_dir / "playbook.pid").write_text(str(self.proc.pid))

    def wait(self):
        try:
            self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise
        finally:
            self.out.close()
        killed = (self.crash_dir / "killed").exists()
        if killed:
            # what the module's worker group left (nothing outlives a -9 on a dead laptop either)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        text = self.log.read_text(errors="replace")
        return CrashRun(self.cmd, self.proc.returncode, text, "", {k: str(v) for k, v in self.dirs.items()},
                        killed=killed, writes=_lines(self.crash_dir / "writes.log"),
                        tasks=_lines(self.crash_dir / "tasks.log"), seconds=round(time.monotonic() - self.t0, 1))


# Changed tasks that only write the control node's own files (state-file cache, directories): not changes
# to the world a crash can leave half done.
LOCAL_ACTIONS = ("ansible.builtin.file", "ansible.builtin.copy", "file", "copy")


def kill_points(census):
    """Every changing point of a census run, in order: ("write", label) for each module call that wrote
    (killed inside it, after the write), ("task", name) for a changed task without writes of its own
    (a bundled module: killed right after it)."""
    points, seen = [], set()
    for n, label in census.writes:
        points.append(("write", label))
    for row in census.tasks:
        _n, status, name, before, after = row[0], row[1], row[2], int(row[3]), int(row[4])
        if len(row) > 5 and row[5] in LOCAL_ACTIONS:
            continue
        if status == "changed" and before == after and ("task", name) not in seen:
            seen.add(("task", name))
            points.append(("task", name, before))
    # tasks sit between the writes they came after
    ordered = []
    writes = [p for p in points if p[0] == "write"]
    tasks = sorted((p for p in points if p[0] == "task"), key=lambda p: p[2])
    i = 0
    for k, w in enumerate(writes):
        while i < len(tasks) and tasks[i][2] <= k:
            ordered.append(("task", tasks[i][1]))
            i += 1
        ordered.append(w)
    ordered += [("task", t[1]) for t in tasks[i:]]
    return ordered


def kill_chain(playbook, tmp_path, extra_vars, points, after_kill=None, **kw):
    """Kill a run at each point in turn, each run resuming what the killed one left, each with empty
    audit/state/temp dirs of its own (a second laptop); then one run to the end.
    after_kill(run, point) checks the invariants that must hold at any moment.
    Returns (killed runs, [points no run reached], final run)."""
    runs, missed = [], []
    for point in points:
        kind, what = point[0], point[1]
        run = run_crashing(playbook, tmp_path, extra_vars=extra_vars,
                           at_label=what if kind == "write" else None,
                           after_changed_task=what if kind == "task" else None, **kw)
        if not run.killed:
            missed.append(point)
            runs.append(run)
            if run.rc == 0:
                continue
            raise AssertionError(f"a run aimed at {point} failed without being killed:\n{run.tail(80)}")
        runs.append(run)
        if after_kill:
            after_kill(run, point)
    final = run_crashing(playbook, tmp_path, extra_vars=extra_vars, **kw)
    return runs, missed, final
