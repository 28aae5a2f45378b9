"""HAProxy runtime API (the stack's admin socket), stdlib only.

    python stack/haproxy/hactl.py "show stat"          # prints the answer
    from hactl import command, show_stat               # used by stack/alb/albd.py and stack/fault

No reload is ever needed to change a weight, a server state or the fault map.
"""
from __future__ import annotations

import csv
import io
import os
import socket
import sys


def socket_path(state=None):
    state = state or os.environ.get("FACILITATOR_OPS_STATE") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", ".stack")
    return os.path.join(state, "haproxy", "admin.sock")


def command(cmd, path=None, timeout=5.0):
    """Send one runtime command; return the answer text."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path or socket_path())
        s.sendall(cmd.encode() + b"\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode()
    finally:
        s.close()


def show_stat(path=None):
    """`show stat` as a list of dicts keyed by column name (pxname, svname, status, req_tot, hrsp_5xx, ...)."""
    text = command("show stat", path)
    if not text.startswith("# "):
        raise RuntimeError(f"unexpected 'show stat' answer: {text[:80]!r}")
    return list(csv.DictReader(io.StringIO(text[2:])))


if __name__ == "__main__":
    sys.stdout.write(command(" ".join(sys.argv[1:]) or "show info"))
