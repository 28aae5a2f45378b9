# -*- coding: utf-8 -*-
"""Solana side of the wallet rotation over JSON-RPC: balances, funding and
sweep transfers (System Program transfer), signed in-process with solders.

The fee of a message is quoted exactly by `getFeeForMessage`, so a sweep sends
balance - fee and leaves 0 lamports (a system account may go to 0). Balances
that decide "already funded" / "already swept" are read at `processed`
commitment, so a transfer still on its way counts and a rerun never pays
twice; our own transfers are awaited until `confirmed`.

A transfer is recorded (signature and the blockhash's last valid block height,
in AWS through `inflight`, a wallet.secret.InflightRecord) BEFORE it is sent,
and cleared once confirmed. A run that finds a record (the previous one died
in between) first settles it: confirmed -> counted, failed -> forgotten,
unknown -> wait until it lands or its blockhash expires (then it can never
land, and sending again is safe). Never a second transfer while the first can
still land.

The local stack has no Solana chain: this code is tested with recorded
JSON-RPC responses (tests/unit/test_wallet_solana.py, *_recorded_solana_rpc).
"""
from __future__ import annotations

import base64
import time

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused
from ansible.module_utils.facilitator_ops.wallet.fees import SOLANA_RENT_EXEMPT_MIN
from ansible.module_utils.facilitator_ops.wallet.fees import fund_need
from ansible.module_utils.facilitator_ops.wallet.fees import solana_fund_check
from ansible.module_utils.facilitator_ops.wallet.fees import solana_sweep_plan
from ansible.module_utils.facilitator_ops.wallet.rpc import RpcError

CONFIRMED = ("confirmed", "finalized")
SYSTEM_PROGRAM = "11111111111111111111111111111111"


def build_transfer(keypair, to_address, lamports, blockhash):
    """-> (message_b64, tx_b64, signature) of a one-instruction transfer."""
    from solders.hash import Hash
    from solders.message import Message
    from solders.pubkey import Pubkey
    from solders.system_program import TransferParams
    from solders.system_program import transfer
    from solders.transaction import Transaction

    ix = transfer(TransferParams(from_pubkey=keypair.pubkey(), to_pubkey=Pubkey.from_string(to_address),
                                 lamports=int(lamports)))
    bh = Hash.from_string(blockhash)
    msg = Message.new_with_blockhash([ix], keypair.pubkey(), bh)
    tx = Transaction([keypair], msg, bh)
    return (base64.b64encode(bytes(msg)).decode(), base64.b64encode(bytes(tx)).decode(), str(tx.signatures[0]))


class SolanaChain:
    def __init__(self, rpc, network, genesis_hash=None, sleep=time.sleep, clock=time.monotonic):
        self.rpc = rpc
        self.network = network
        self.genesis_hash = genesis_hash
        self.sleep = sleep
        self.clock = clock

    def check_genesis(self):
        if not self.genesis_hash:
            return None
        live = self.rpc.call("getGenesisHash")
        if live != self.genesis_hash:
            raise TransferRefused(f"{self.network}: the RPC serves genesis {live}, expected {self.genesis_hash}")
        return live

    def check_system_account(self, address):
        """A sweep destination must be an existing system account (getAccountInfo: it exists and its owner is
        the System Program): a mistyped base58 key has no checksum and would take the whole balance."""
        res = self.rpc.call("getAccountInfo", address, {"encoding": "base64", "commitment": "confirmed"})
        value = res.get("value") if isinstance(res, dict) else None
        if not value:
            raise TransferRefused(f"{self.network}: the sweep destination {address} does not exist (getAccountInfo: "
                                  f"no account): a mistyped treasury? Nothing sent")
        owner = value.get("owner")
        if owner != SYSTEM_PROGRAM or value.get("executable"):
            raise TransferRefused(f"{self.network}: the sweep destination {address} is not a system account (owner "
                                  f"{owner}{', executable' if value.get('executable') else ''}): not a wallet "
                                  f"treasury. Nothing sent")
        return True

    def balance(self, address, commitment="processed"):
        res = self.rpc.call("getBalance", address, {"commitment": commitment})
        return int(res["value"] if isinstance(res, dict) else res)

    def blockhash(self):
        return self.latest_blockhash()[0]

    def latest_blockhash(self):
        """(blockhash, last valid block height)."""
        res = self.rpc.call("getLatestBlockhash", {"commitment": "confirmed"})
        return res["value"]["blockhash"], int(res["value"].get("lastValidBlockHeight") or 0)

    def settle_inflight(self, inflight, timeout):
        """A transfer a previous run recorded and may have sent: wait until it is confirmed, failed or
        can no longer land. Returns None (nothing recorded), "landed", "failed" or "expired"."""
        rec = inflight.get() if inflight is not None else None
        if rec is None:
            return None
        sig = rec["signature"]
        deadline = self.clock() + timeout
        while True:
            res = self.rpc.call("getSignatureStatuses", [sig], {"searchTransactionHistory": True})
            st = (res or {}).get("value", [None])[0]
            if st and st.get("err"):
                inflight.clear()
                return "failed"
            if st and st.get("confirmationStatus") in CONFIRMED:
                inflight.clear()
                return "landed"
            if st is None:
                height = int(self.rpc.call("getBlockHeight", {"commitment": "confirmed"}))
                if height > rec["last_valid_block_height"]:
                    inflight.clear()
                    return "expired"
            if self.clock() >= deadline:
                raise RpcError(f"{self.network}: transfer {sig} sent by an earlier run is still in flight after "
                               f"{timeout}s: rerun once it landed or expired (nothing sent)")
            self.sleep(1)

    def fee_for(self, message_b64):
        res = self.rpc.call("getFeeForMessage", message_b64, {"commitment": "confirmed"})
        value = res["value"] if isinstance(res, dict) else res
        if value is None:
            raise RpcError(f"{self.network}: getFeeForMessage: blockhash expired, rerun")
        return int(value)

    def wait_confirmed(self, signature, timeout):
        deadline = self.clock() + timeout
        while True:
            res = self.rpc.call("getSignatureStatuses", [signature], {"searchTransactionHistory": True})
            st = (res or {}).get("value", [None])[0]
            if st:
                if st.get("err"):
                    raise RpcError(f"{self.network}: transaction {signature} failed: {st['err']}")
                if st.get("confirmationStatus") in CONFIRMED:
                    return st
            if self.clock() >= deadline:
                raise RpcError(f"{self.network}: {signature} not confirmed after {timeout}s (rerun: the balances decide)")
            self.sleep(1)

    def _send(self, tx_b64, signature, timeout):
        sent = self.rpc.call("sendTransaction", tx_b64, {"encoding": "base64", "preflightCommitment": "confirmed"})
        if sent and sent != signature:
            raise RpcError(f"{self.network}: the RPC returned signature {sent}, expected {signature}")
        crashpoint.wrote(f"wallet_transfer {self.network}: transaction sent")
        st = self.wait_confirmed(signature, timeout)
        return signature, st

    def fund(self, keypair, new_address, target, timeout=120, check_mode=False, reserve=0, inflight=None):
        """Top `new_address` up to `target`; the old wallet keeps at least `reserve` (its floor: it stays
        the live fee payer until the new one is proven) and the rent-exempt minimum."""
        self.check_genesis()
        settled = None if check_mode else self.settle_inflight(inflight, timeout)
        old = str(keypair.pubkey())
        new_bal = self.balance(new_address)
        old_bal = self.balance(old)
        need = fund_need(target, new_bal)
        out = dict(network=self.network, kind="solana", sender=old, recipient=new_address, target=int(target),
                   old_before=old_bal, new_before=new_bal, amount=0, fee=0, tx=None)
        if need == 0:
            out.update(action="skipped", reason="already funded (balance >= target)"
                       + (f"; the transfer of an earlier run {settled}" if settled else ""), old_after=old_bal,
                       new_after=new_bal)
            return out
        bh, last_valid = self.latest_blockhash()
        msg_b64, tx_b64, sig = build_transfer(keypair, new_address, need, bh)
        fee = self.fee_for(msg_b64)
        keep = max(int(reserve), SOLANA_RENT_EXEMPT_MIN)
        ok, short = solana_fund_check(old_bal, need, fee, new_bal, reserve=keep)
        if not ok:
            raise TransferRefused(
                f"{self.network}: the old wallet {old} cannot fund the new one: needs {need} + fee {fee} and must "
                f"keep {keep} lamports (its floor, at least the rent-exempt minimum), has {old_bal} (short {short})")
        if check_mode:
            out.update(action="would_fund", amount=need, fee=fee, old_after=None, new_after=None)
            return out
        if inflight is not None:
            inflight.put(sig, last_valid)
        signature, _st = self._send(tx_b64, sig, timeout)
        if inflight is not None:
            inflight.clear()
        out.update(action="funded", amount=need, fee=fee, tx=signature,
                   old_after=self.balance(old, "confirmed"), new_after=self.balance(new_address, "confirmed"))
        return out

    def sweep(self, keypair, to_address, timeout=120, check_mode=False, dust_threshold=0, inflight=None,
              require_system_account=False):
        """`require_system_account`: the destination is a treasury the operator typed: it must exist as a
        system account before anything is sent."""
        self.check_genesis()
        if require_system_account:
            self.check_system_account(to_address)
        if not check_mode:
            self.settle_inflight(inflight, timeout)
        old = str(keypair.pubkey())
        bal = self.balance(old)
        dest_before = self.balance(to_address)
        out = dict(network=self.network, kind="solana", sender=old, recipient=to_address, old_before=bal,
                   new_before=dest_before, amount=0, fee=0, tx=None, dust=0)
        if bal <= int(dust_threshold):
            out.update(action="skipped", reason="already swept" if bal == 0 else "only dust left", old_after=bal,
                       new_after=dest_before, dust=bal)
            return out
        bh, last_valid = self.latest_blockhash()
        probe_msg, _tx, _sig = build_transfer(keypair, to_address, bal, bh)
        fee = self.fee_for(probe_msg)
        plan = solana_sweep_plan(bal, fee)
        if plan["value"] == 0:
            out.update(action="dust", reason=plan["reason"], old_after=bal, new_after=dest_before, dust=bal)
            return out
        if dest_before + plan["value"] < SOLANA_RENT_EXEMPT_MIN:
            raise TransferRefused(f"{self.network}: sweeping {plan['value']} lamports would leave {to_address} "
                                  f"below the rent-exempt minimum; nothing sent")
        if check_mode:
            out.update(action="would_sweep", amount=plan["value"], fee=fee, old_after=None, new_after=None)
            return out
        _msg, tx_b64, sig = build_transfer(keypair, to_address, plan["value"], bh)
        if inflight is not None:
            inflight.put(sig, last_valid)
        signature, _st = self._send(tx_b64, sig, timeout)
        if inflight is not None:
            inflight.clear()
        after = self.balance(old, "confirmed")
        out.update(action="swept", amount=plan["value"], fee=fee, tx=signature, old_after=after,
                   new_after=self.balance(to_address, "confirmed"), dust=after)
        return out
