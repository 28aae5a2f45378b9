"""A private moto server for tests that need a fresh AWS world.

Never touches the shared stack's moto on :5000: each user gets its own server
on a free 127.0.0.1 port, reset between tests with moto's /moto-api/reset.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, log_path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.proc = None

    def start(self, timeout=90):
        # moto is pinned in requirements.txt: missing, dead or silent is a
        # failure (CI would fail a skip anyway; this says why at once). The
        # timeout is generous: moto imports for a while on 2 busy cores.
        exe = VENV_BIN / "moto_server"
        if not exe.exists():
            pytest.fail(f"moto_server is not installed in {VENV_BIN} (./bootstrap.sh installs requirements.txt)")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"moto_server exited at start (rc {self.proc.returncode}):\n{self._log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"moto_server did not answer on {self.endpoint} within {timeout} s:\n{self._log_tail()}")

    def _log_tail(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def reset(self):
        req = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=10).read()

    def client(self, service, region):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()
