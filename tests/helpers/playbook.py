"""Run ansible-playbook the way an operator would, and leak-scan the run.

    run = run_playbook("migrate_secrets.yml", tmp_path, extra_vars={...}, scanner=scanner)
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] == 0

Every run uses `-vvv`, runs from the repository root with ANSIBLE_CONFIG set,
and gets its own ANSIBLE_LOCAL_TEMP / ANSIBLE_REMOTE_TEMP / TMPDIR and
FACILITATOR_OPS_AUDIT_DIR / FACILITATOR_OPS_STATE_DIR under the test's tmp
dir. With a scanner, the captured stdout+stderr, the audit dir and every file
under those dirs are scanned for each canary after the run; a hit fails the
test naming the place, never the value.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.M,
)


def ansible_playbook_bin():
    for candidate in (VENV_BIN / "ansible-playbook", REPO / ".venv" / "bin" / "ansible-playbook"):
        if candidate.exists():
            return str(candidate)
    return "ansible-playbook"


@dataclass
class PlaybookRun:
    args: list
    rc: int
    stdout: str
    stderr: str
    dirs: dict
    # (seconds since the start, line) for every stdout line, when run with stamped=True
    stamps: list = field(default_factory=list)

    @property
    def output(self):
        return self.stdout + "\n" + self.stderr

    @property
    def recap(self):
        """Totals over hosts of the PLAY RECAP (empty dict if none)."""
        totals = {}
        for m in RECAP.finditer(self.stdout):
            for k, v in m.groupdict().items():
                if k != "host":
                    totals[k] = totals.get(k, 0) + int(v)
        return totals

    def tail(self, lines=60):
        return "\n".join(self.output.splitlines()[-lines:])

    def stamped(self, pattern):
        """Seconds (since the start) at which stdout lines matching the regex were printed."""
        rx = re.compile(pattern)
        return [t for t, line in self.stamps if rx.search(line)]

    def audit_records(self, name):
        path = Path(self.dirs["audit"]) / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run_stamped(cmd, cwd, env, timeout):
    """Run cmd, noting when each stdout line arrives (what an operator watching sees)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, bufsize=1)
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    stamps, out = [], []
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            stamps.append((time.monotonic() - t0, line.rstrip("\n")))
            out.append(line)
        proc.wait()
    finally:
        timer.cancel()
    reader.join(10)
    return proc.returncode, "".join(out), "".join(err), stamps


def run_playbook(playbook, tmp_path, extra_vars=None, args=(), env=None, scanner=None,
                 inventory=None, timeout=600, verbosity="-vvv", dirs=None, stamped=False):
    """Run a playbook from the repository root; see the module docstring.

    stamped=True records when each stdout line was printed (PlaybookRun.stamps),
    to test that a long wait shows progress.

    extra_vars are passed as one JSON `-e` (never put a canary there: argv is
    not scanned and shows in `ps`). `dirs` reuses the temp/audit/state dirs of
    an earlier run (e.g. to check a second run's audit file)."""
    tmp_path = Path(tmp_path)
    if dirs is None:
        n = len(list(tmp_path.glob("run-*")))
        base = tmp_path / f"run-{n}"
        dirs = {
            "local_temp": base / "ansible-local",
            "remote_temp": base / "ansible-remote",
            "tmpdir": base / "tmp",
            "audit": base / "audit",
            "state": base / "state",
        }
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
    dirs = {k: Path(v) for k, v in dirs.items()}
    cmd = [ansible_playbook_bin(), str(playbook)]
    if verbosity:
        cmd.append(verbosity)
    if inventory:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    run_env = dict(os.environ)
    run_env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(dirs["local_temp"]),
        ANSIBLE_REMOTE_TEMP=str(dirs["remote_temp"]),
        TMPDIR=str(dirs["tmpdir"]),
        FACILITATOR_OPS_AUDIT_DIR=str(dirs["audit"]),
        FACILITATOR_OPS_STATE_DIR=str(dirs["state"]),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    run_env.update(env or {})
    if stamped:
        rc, stdout, stderr, stamps = _run_stamped(cmd, REPO, run_env, timeout)
    else:
        proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        rc, stdout, stderr, stamps = proc.returncode, proc.stdout, proc.stderr, []
    run = PlaybookRun(cmd, rc, stdout, stderr, {k: str(v) for k, v in dirs.items()}, stamps)
    if scanner is not None:
        scanner.assert_clean(
            texts={f"{Path(playbook).name} stdout": stdout, f"{Path(playbook).name} stderr": stderr},
            trees=[dirs[k] for k in ("local_temp", "remote_temp", "tmpdir", "audit", "state")],
        )
    return run
