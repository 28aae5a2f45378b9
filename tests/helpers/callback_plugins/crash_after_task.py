# -*- coding: utf-8 -*-
"""Test-only callback: SIGKILL the whole ansible-playbook process group right
after the Nth task result (tests/helpers/crash.py enables it; never in ansible.cfg).

FACILITATOR_OPS_CRASH_DIR    where tasks.log and `killed` go
FACILITATOR_OPS_CRASH_AFTER_TASK   N (unset: only count)
FACILITATOR_OPS_CRASH_AFTER_CHANGED_TASK   a task name: killed after its first changed result

tasks.log: "<n>\t<status>\t<task name>\t<writes before>\t<writes after>\t<action>", the write counts
being lines of writes.log (the module crash points, common/crashpoint.py) when the task
started and ended: a changed task without writes of its own (a bundled module) is
killed after it returns, the others inside their writes.
"""
from __future__ import annotations

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: crash_after_task
type: aggregate
short_description: Test-only, kills the run after the Nth task
description: Used by tests/helpers/crash.py; inert without FACILITATOR_OPS_CRASH_DIR.
requirements: [enable in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "crash_after_task"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.dir = os.environ.get("FACILITATOR_OPS_CRASH_DIR")
        at = os.environ.get("FACILITATOR_OPS_CRASH_AFTER_TASK", "")
        self.at = int(at) if at.isdigit() else None
        self.at_name = os.environ.get("FACILITATOR_OPS_CRASH_AFTER_CHANGED_TASK")
        self.n = 0
        self.writes_at_start = 0

    def _writes(self):
        try:
            with open(os.path.join(self.dir, "writes.log"), encoding="utf-8") as fh:
                return sum(1 for line in fh if line.strip())
        except OSError:
            return 0

    def v2_runner_on_start(self, host, task):
        if self.dir:
            self.writes_at_start = self._writes()

    def _seen(self, result, status):
        if not self.dir:
            return
        self.n += 1
        if status == "ok" and result._result.get("changed"):
            status = "changed"
        name = result._task.get_name().replace("\t", " ").replace("\n", " ")
        with open(os.path.join(self.dir, "tasks.log"), "a", encoding="utf-8") as fh:
            fh.write(f"{self.n}\t{status}\t{name}\t{self.writes_at_start}\t{self._writes()}\t{result._task.action}\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self.at == self.n or (self.at_name and status == "changed" and name == self.at_name):
            with open(os.path.join(self.dir, "killed"), "w", encoding="utf-8") as fh:
                fh.write(f"task {self.n}\n")
            os.killpg(os.getpgrp(), signal.SIGKILL)

    def v2_runner_on_ok(self, result):
        self._seen(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._seen(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._seen(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._seen(result, "unreachable")
