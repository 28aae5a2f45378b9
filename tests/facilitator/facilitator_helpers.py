"""Shared helpers for tests/facilitator/ (a uniquely named module, so `import` never
resolves to another directory's conftest)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "facilitator" / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

# Well-known anvil dev keys (public; never funded anywhere real).
ANVIL_KEY_2 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
ANVIL_ADDR_2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
ANVIL_KEY_3 = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
ANVIL_ADDR_3 = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
# A throwaway Solana keypair (base58 of 64 bytes) and its public key.
SOLANA_KEYPAIR = (
    "r38iF3qC7GoCKxu31vFsfMZiggjcg1sPEYxfsbL37YcGvbWEupLY41kT4pWBcUXRprmWNDbMk1S7jehqpC7XbQ3"
)
SOLANA_PUBKEY = "CY2ynG6ov9czuhfbmKxEDXMFwosxSSQqTQk78ebbfbHy"


def state_dir() -> Path:
    return Path(os.environ.get("FACILITATOR_OPS_STATE") or (REPO / ".stack"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningFacilitator:
    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path):
        self.proc = proc
        self.url = url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())


def start_facilitator(env: dict[str, str], tmp_path: Path, timeout: float = 30.0) -> RunningFacilitator:
    """Run ``python -m x402_reference_facilitator`` on a free 127.0.0.1 port."""
    port = free_port()
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(APP_DIR),
        "BIND_HOST": "127.0.0.1",
        "PORT": str(port),
        "FACILITATOR_VERSION_FILE": str(tmp_path / "no-version-file"),
        **env,
    }
    log_path = tmp_path / f"facilitator-{port}.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "x402_reference_facilitator"],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    running = RunningFacilitator(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"facilitator exited {proc.returncode}:\n{running.log()}")
        try:
            if running.get_json("/health") == {"status": "healthy"}:
                return running
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"facilitator did not become healthy:\n{running.log()}")


def stop_facilitator(running: RunningFacilitator) -> None:
    if running.proc.poll() is None:
        running.proc.terminate()
        try:
            running.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            running.proc.wait()
