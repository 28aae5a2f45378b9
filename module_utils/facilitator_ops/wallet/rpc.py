# -*- coding: utf-8 -*-
"""A minimal JSON-RPC client shared by the EVM and Solana wallet code.

The URL may carry an API key (production RPC URLs are secrets), so no error
raised here quotes it: errors name the network label only. `transport` is
replaceable: unit tests feed recorded responses through it.
"""
from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request


class RpcError(Exception):
    """Safe to print: names the network and the method, never the URL."""

    def __init__(self, msg, code=None):
        super().__init__(msg)
        self.code = code


def urllib_transport(url, payload, timeout):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "facilitator-ops-wallet"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (operator-configured RPC URL)
        return json.loads(resp.read().decode("utf-8"))


class JsonRpc:
    def __init__(self, url, label, timeout=20.0, transport=None):
        self._url = url
        self.label = label
        self.timeout = timeout
        self._transport = transport or urllib_transport
        self._ids = itertools.count(1)
        self.calls = []  # method names, for tests and progress

    def __repr__(self):  # never show the URL
        return f"JsonRpc({self.label})"

    def call(self, method, *params):
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        self.calls.append(method)
        try:
            resp = self._transport(self._url, payload, self.timeout)
        except urllib.error.HTTPError as e:
            raise RpcError(f"{self.label}: {method}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise RpcError(f"{self.label}: {method}: RPC unreachable ({reason.__class__.__name__})") from None
        except ValueError:
            raise RpcError(f"{self.label}: {method}: the RPC did not answer JSON") from None
        if not isinstance(resp, dict):
            raise RpcError(f"{self.label}: {method}: unexpected answer")
        if resp.get("error"):
            err = resp["error"]
            msg = err.get("message", "error") if isinstance(err, dict) else str(err)
            code = err.get("code") if isinstance(err, dict) else None
            raise RpcError(f"{self.label}: {method}: {str(msg)[:200]}", code=code)
        return resp.get("result")
