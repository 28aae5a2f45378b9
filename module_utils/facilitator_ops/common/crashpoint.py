# -*- coding: utf-8 -*-
"""Test-only crash points: the whole ansible-playbook run dies (SIGKILL) right
after a module's AWS or chain write, before the module returns, as when an
operator's laptop dies mid-call.

Inert unless the environment names a crash directory (only the crash tests
set it, tests/helpers/crash.py). Then every module call that changes the world
calls `wrote(label)` right after its first write; the first such call of a
process appends "<n>\t<label>" to <dir>/writes.log (n counts the run's writing
module calls) and kills when n equals FACILITATOR_OPS_CRASH_AT_WRITE or the
label equals FACILITATOR_OPS_CRASH_AT_LABEL: the process group of the
ansible-playbook process (its pid is in <dir>/playbook.pid, written by the
test) and then its own (Ansible's worker runs the module in a session of its
own, so both groups must go). FACILITATOR_OPS_CRASH_PAUSE="<label>=<seconds>"
instead holds the module that long after that write (two runs then surely meet
at a lock). Labels name the module call, never a value that changes from run
to run (revisions, version ids).
"""
from __future__ import annotations

import os
import signal
import threading

ENV_DIR = "FACILITATOR_OPS_CRASH_DIR"
ENV_AT = "FACILITATOR_OPS_CRASH_AT_WRITE"
ENV_AT_LABEL = "FACILITATOR_OPS_CRASH_AT_LABEL"
ENV_PAUSE = "FACILITATOR_OPS_CRASH_PAUSE"

_lock = threading.Lock()
_counted = False
_scope = None


def set_scope(label):
    """Name the module call (used instead of the per-write text, e.g. one label for a transfer on any network)."""
    global _scope
    _scope = label


def active():
    return bool(os.environ.get(ENV_DIR))


def wrote(label):
    """Call right after a write. No-op unless a crash test set ENV_DIR."""
    global _counted
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return
    with _lock:
        if _counted:  # one count per module call (its first write)
            return
        _counted = True
        label = _scope or label
        n = _record(directory, label)
        at = os.environ.get(ENV_AT, "")
        if (at.isdigit() and int(at) == n) or os.environ.get(ENV_AT_LABEL) == label:
            _kill(directory)
        pause_label, _, seconds = os.environ.get(ENV_PAUSE, "").rpartition("=")
        if pause_label == label:
            import time

            time.sleep(float(seconds))


def _record(directory, label):
    import fcntl

    path = os.path.join(directory, "writes.log")
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        n = sum(1 for line in fh if line.strip()) + 1
        fh.write(f"{n}\t{label}\n")
        fh.flush()
        os.fsync(fh.fileno())
    return n


def _kill(directory):
    with open(os.path.join(directory, "killed"), "w", encoding="utf-8") as fh:
        fh.write("write\n")
    try:
        with open(os.path.join(directory, "playbook.pid"), encoding="utf-8") as fh:
            os.killpg(int(fh.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    os.killpg(os.getpgid(0), signal.SIGKILL)
