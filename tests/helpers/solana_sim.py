"""A Solana JSON-RPC stand-in for the rotation crash tests (the local stack has no Solana chain).

It answers the calls wallet/solana.py makes, in the response shapes of the Solana JSON-RPC API recorded in
tests/unit/fixtures/solana_rpc/ (getGenesisHash, getBalance, getLatestBlockhash, getFeeForMessage,
sendTransaction, getSignatureStatuses, getBlockHeight), and keeps a ledger: a sent transaction is decoded with
solders, its signature verified, its System Program transfer applied (5000 lamports per signature charged to
the fee payer), first "processed" then "confirmed" on the next status read. Every lamport is accounted for:
`fees` per payer, `balances` per account.
"""
from __future__ import annotations

import base64
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

GENESIS = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG"
SYSTEM_PROGRAM = "11111111111111111111111111111111"
FEE_PER_SIGNATURE = 5000


class SolanaSim:
    def __init__(self):
        self.lock = threading.Lock()
        self.balances = {}
        self.fees = {}
        self.statuses = {}
        self.sent = []
        self.height = 369_500_000
        self.slot = 381_240_000
        self._new_blockhash()
        self.server = None

    # ---- ledger
    def _new_blockhash(self):
        from solders.hash import Hash

        self.blockhash = str(Hash.new_unique())
        self.blockhashes = getattr(self, "blockhashes", {})
        self.blockhashes[self.blockhash] = self.height + 150

    def balance(self, address):
        return self.balances.get(address, 0)

    def credit(self, address, lamports):
        with self.lock:
            self.balances[address] = self.balance(address) + int(lamports)

    def _ctx(self, value):
        return {"context": {"apiVersion": "2.2.7", "slot": self.slot}, "value": value}

    # ---- JSON-RPC methods
    def getGenesisHash(self):  # noqa: N802
        return GENESIS

    def getBalance(self, address, opts=None):  # noqa: N802
        return self._ctx(self.balance(address))

    def getLatestBlockhash(self, opts=None):  # noqa: N802
        self.slot += 1
        self.height += 1
        if self.height % 20 == 0:
            self._new_blockhash()
        return self._ctx({"blockhash": self.blockhash, "lastValidBlockHeight": self.blockhashes[self.blockhash]})

    def getBlockHeight(self, opts=None):  # noqa: N802
        self.height += 1
        return self.height

    def getFeeForMessage(self, msg_b64, opts=None):  # noqa: N802
        from solders.message import Message

        msg = Message.from_bytes(base64.b64decode(msg_b64))
        if str(msg.recent_blockhash) not in self.blockhashes:
            return self._ctx(None)
        return self._ctx(FEE_PER_SIGNATURE * msg.header.num_required_signatures)

    def sendTransaction(self, tx_b64, opts=None):  # noqa: N802
        from solders.transaction import Transaction

        tx = Transaction.from_bytes(base64.b64decode(tx_b64))
        tx.verify()  # raises on a bad signature
        sig = str(tx.signatures[0])
        if sig in self.statuses:
            return sig  # a resend of the same transaction: processed once
        msg = tx.message
        keys = [str(k) for k in msg.account_keys]
        if self.blockhashes.get(str(msg.recent_blockhash), 0) < self.height:
            raise RpcFault(-32002, "Transaction simulation failed: Blockhash not found")
        payer = keys[0]
        fee = FEE_PER_SIGNATURE * len(tx.signatures)
        moves = []
        for ix in msg.instructions:
            program = keys[ix.program_id_index]
            data = bytes(ix.data)
            if program != SYSTEM_PROGRAM or struct.unpack_from("<I", data)[0] != 2:
                raise RpcFault(-32602, "only System Program transfers are simulated")
            lamports = struct.unpack_from("<Q", data, 4)[0]
            moves.append((keys[ix.accounts[0]], keys[ix.accounts[1]], lamports))
        need = fee + sum(m[2] for m in moves if m[0] == payer)
        if self.balance(payer) < need:
            raise RpcFault(-32002, "Transaction simulation failed: Attempt to debit an account but found no record "
                                   "of a prior credit.")
        self.balances[payer] = self.balance(payer) - fee
        self.fees[payer] = self.fees.get(payer, 0) + fee
        for src, dst, lamports in moves:
            self.balances[src] = self.balance(src) - lamports
            self.balances[dst] = self.balance(dst) + lamports
        self.slot += 1
        self.statuses[sig] = {"slot": self.slot, "confirmations": 0, "err": None, "status": {"Ok": None},
                              "confirmationStatus": "processed"}
        self.sent.append(dict(signature=sig, payer=payer, fee=fee, moves=moves))
        return sig

    def getSignatureStatuses(self, sigs, opts=None):  # noqa: N802
        out = []
        for sig in sigs:
            st = self.statuses.get(sig)
            if st is not None:
                out.append(dict(st))
                if st["confirmationStatus"] == "processed":
                    st.update(confirmationStatus="confirmed", confirmations=1)
            else:
                out.append(None)
        return self._ctx(out)

    # ---- server
    def handle(self, payload):
        with self.lock:
            try:
                fn = getattr(self, payload["method"])
                return {"jsonrpc": "2.0", "id": payload.get("id"), "result": fn(*payload.get("params", []))}
            except RpcFault as e:
                return {"jsonrpc": "2.0", "id": payload.get("id"), "error": {"code": e.code, "message": e.message}}

    def start(self):
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                out = json.dumps(sim.handle(json.loads(body))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()


class RpcFault(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message
