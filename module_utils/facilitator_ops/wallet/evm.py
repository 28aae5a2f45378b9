# -*- coding: utf-8 -*-
"""EVM side of the wallet rotation: balances, funding and sweep transfers over
plain JSON-RPC, signed in-process with eth-account (the key object never
leaves the module process; results carry addresses, amounts and hashes).

Every transfer first checks the chain id (a wrong RPC URL must not send real
money on another chain) and waits until the sender has no transaction in
flight (pending nonce == latest nonce), so the balances it reads are final and
a rerun never pays twice for a transfer that was still being mined.
"""
from __future__ import annotations

import time

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.wallet.fees import TRANSFER_GAS
from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused
from ansible.module_utils.facilitator_ops.wallet.fees import effective_fee
from ansible.module_utils.facilitator_ops.wallet.fees import evm_fund_fees
from ansible.module_utils.facilitator_ops.wallet.fees import evm_sweep_plan
from ansible.module_utils.facilitator_ops.wallet.fees import fund_check
from ansible.module_utils.facilitator_ops.wallet.fees import fund_need
from ansible.module_utils.facilitator_ops.wallet.rpc import RpcError

OP_STACK_GAS_ORACLE = "0x420000000000000000000000000000000000000F"
GET_L1_FEE_SELECTOR = "49948e0e"  # getL1Fee(bytes)


class NotIdle(TransferRefused):
    """The sender still had transactions in flight when the wait ended (nothing was sent)."""

    def __init__(self, msg, in_flight=0, pending=None, latest=None):
        super().__init__(msg)
        self.in_flight, self.pending, self.latest = in_flight, pending, latest


def _int(v):
    if v is None:
        return None
    return int(v, 16) if isinstance(v, str) else int(v)


class EvmChain:
    def __init__(self, rpc, network, chain_id=None, l1_fee=None, priority_fee_wei=None, sleep=time.sleep,
                 clock=time.monotonic):
        self.rpc = rpc
        self.network = network
        self.chain_id = int(chain_id) if chain_id else None
        self.l1_fee = l1_fee
        self.priority_fee_wei = priority_fee_wei
        self.sleep = sleep
        self.clock = clock

    # ---------------------------------------------------------------- reads
    def check_chain_id(self):
        live = _int(self.rpc.call("eth_chainId"))
        if self.chain_id is not None and live != self.chain_id:
            raise TransferRefused(f"{self.network}: the RPC serves chain id {live}, expected {self.chain_id}")
        return live

    def balance(self, address, block="latest"):
        return _int(self.rpc.call("eth_getBalance", address, block))

    def nonce(self, address, block="latest"):
        return _int(self.rpc.call("eth_getTransactionCount", address, block))

    def has_code(self, address):
        code = self.rpc.call("eth_getCode", address, "latest")
        return bool(code) and code not in ("0x", "0x0")

    def fees(self):
        """(base_fee, priority_fee) in wei. A chain without EIP-1559 reports
        base_fee None: legacy gas price then."""
        block = self.rpc.call("eth_getBlockByNumber", "latest", False) or {}
        base = _int(block.get("baseFeePerGas"))
        if self.priority_fee_wei is not None:
            prio = int(self.priority_fee_wei)
        else:
            try:
                prio = _int(self.rpc.call("eth_maxPriorityFeePerGas"))
            except RpcError:
                prio = 1_000_000_000
        if base is None:
            return None, _int(self.rpc.call("eth_gasPrice"))
        return base, prio

    def gas_for(self, sender, to, value):
        if not self.has_code(to):
            return TRANSFER_GAS
        est = _int(self.rpc.call("eth_estimateGas", {"from": sender, "to": to, "value": hex(value)}))
        return est + est // 5  # contracts: a 20% margin (unused gas is refunded)

    def op_stack_l1_fee(self, raw_tx_hex):
        data = "0x" + GET_L1_FEE_SELECTOR + _abi_bytes(raw_tx_hex)
        return _int(self.rpc.call("eth_call", {"to": OP_STACK_GAS_ORACLE, "data": data}, "latest"))

    def wait_idle(self, address, timeout):
        """Wait until `address` has nothing in flight; returns the nonce."""
        deadline = self.clock() + timeout
        while True:
            latest, pending = self.nonce(address, "latest"), self.nonce(address, "pending")
            if pending <= latest:
                return latest
            if self.clock() >= deadline:
                raise NotIdle(
                    f"{self.network}: {address} still has {pending - latest} transaction(s) in flight after "
                    f"{timeout}s; rerun when they are mined (nothing was sent)", pending - latest, pending, latest)
            self.sleep(1)

    def wait_receipt(self, tx_hash, timeout):
        deadline = self.clock() + timeout
        while True:
            rec = self.rpc.call("eth_getTransactionReceipt", tx_hash)
            if rec:
                return rec
            if self.clock() >= deadline:
                raise RpcError(f"{self.network}: no receipt for {tx_hash} after {timeout}s (it may still be mined: "
                               f"rerun, the balances decide)")
            self.sleep(1)

    # ---------------------------------------------------------------- writes
    def _send(self, account, tx, timeout):
        signed = account.sign_transaction(tx)
        raw = signed.raw_transaction if hasattr(signed, "raw_transaction") else signed.rawTransaction
        raw_hex = "0x" + bytes(raw).hex()
        local_hash = "0x" + bytes(signed.hash).hex()
        try:
            sent = self.rpc.call("eth_sendRawTransaction", raw_hex)
        except RpcError as e:
            # "already known": a rerun re-sent the same transaction; follow it.
            if "known" not in str(e).lower():
                raise
            sent = local_hash
        crashpoint.wrote(f"wallet_transfer {self.network}: transaction sent")
        rec = self.wait_receipt(sent or local_hash, timeout)
        if _int(rec.get("status")) != 1:
            raise RpcError(f"{self.network}: transaction {sent} reverted (status {rec.get('status')})")
        return sent or local_hash, rec

    def plan_fund(self, old_address, new_address, target, reserve=0):
        new_bal = self.balance(new_address)
        old_bal = self.balance(old_address)
        need = fund_need(target, new_bal)
        base, prio = self.fees()
        if base is None:
            max_fee, max_prio, max_cost = prio, None, prio * TRANSFER_GAS
        else:
            max_fee, max_prio, max_cost = evm_fund_fees(base, prio)
        ok, short = fund_check(old_bal, need, max_cost, reserve) if need else (True, 0)
        return dict(old_balance=old_bal, new_balance=new_bal, need=need, max_fee_per_gas=max_fee,
                    max_priority_fee_per_gas=max_prio, max_cost=max_cost, ok=ok, shortfall=short)

    def fund(self, account, new_address, target, timeout=120, check_mode=False, reserve=0, idle_window=None):
        """Top `new_address` up to `target` from `account`; skip when funded. `account` keeps at least
        `reserve` (the network's floor: it is the live signer until the new wallet is proven).

        Before the transfer the sender must be idle (pending nonce == latest nonce): a live signer's
        facilitator allocates its nonces in process. With `idle_window`, a sender still busy after that many
        seconds is reported as action "waiting" (nothing sent) so the caller can print progress and call
        again; without it the wait lasts `timeout` and then refuses."""
        self.check_chain_id()
        old = account.address
        if idle_window:
            try:
                self.wait_idle(old, idle_window)
            except NotIdle as e:
                return dict(network=self.network, kind="evm", sender=old, recipient=new_address, target=int(target),
                            amount=0, fee=0, tx=None, action="waiting", in_flight=e.in_flight,
                            reason=f"the sender {old} has {e.in_flight} transaction(s) in flight (pending nonce "
                                   f"{e.pending}, latest {e.latest}): waiting until it is idle, nothing sent")
        nonce = self.wait_idle(old, timeout)
        self.wait_idle(new_address, timeout)
        plan = self.plan_fund(old, new_address, target, reserve)
        out = dict(network=self.network, kind="evm", sender=old, recipient=new_address, target=int(target),
                   old_before=plan["old_balance"], new_before=plan["new_balance"], amount=0, fee=0, tx=None)
        if plan["need"] == 0:
            out.update(action="skipped", reason="already funded (balance >= target)",
                       old_after=plan["old_balance"], new_after=plan["new_balance"])
            return out
        if not plan["ok"]:
            raise TransferRefused(
                f"{self.network}: the old wallet {old} cannot fund the new one: needs {plan['need']} + fee cap "
                f"{plan['max_cost']} wei and must keep its floor {int(reserve)} wei (it stays the live signer until "
                f"the new one is proven), has {plan['old_balance']} (short {plan['shortfall']})")
        if check_mode:
            out.update(action="would_fund", amount=plan["need"], old_after=None, new_after=None)
            return out
        tx = dict(chainId=self.check_chain_id(), nonce=nonce, to=new_address, value=plan["need"],
                  gas=TRANSFER_GAS, data=b"")
        if plan["max_priority_fee_per_gas"] is None:
            tx["gasPrice"] = plan["max_fee_per_gas"]
        else:
            tx.update(type=2, maxFeePerGas=plan["max_fee_per_gas"],
                      maxPriorityFeePerGas=plan["max_priority_fee_per_gas"])
        tx_hash, rec = self._send(account, tx, timeout)
        out.update(action="funded", amount=plan["need"], tx=tx_hash, fee=effective_fee(rec),
                   block=_int(rec.get("blockNumber")),
                   old_after=self.balance(old), new_after=self.balance(new_address))
        return out

    def sweep(self, account, to_address, timeout=120, check_mode=False, dust_threshold=0, l1_margin_pct=10):
        """Move everything but the exact fee from `account` to `to_address`."""
        self.check_chain_id()
        old = account.address
        nonce = self.wait_idle(old, timeout)
        bal = self.balance(old)
        dest_before = self.balance(to_address)
        out = dict(network=self.network, kind="evm", sender=old, recipient=to_address, old_before=bal,
                   new_before=dest_before, amount=0, fee=0, tx=None, dust=0)
        if bal <= int(dust_threshold):
            out.update(action="skipped", reason="already swept" if bal == 0 else "only dust left",
                       old_after=bal, new_after=dest_before, dust=bal)
            return out
        base, prio = self.fees()
        gas = self.gas_for(old, to_address, 1)
        l1 = 0
        if self.l1_fee == "op-stack":
            probe = dict(chainId=self.chain_id or self.check_chain_id(), nonce=nonce, to=to_address, value=bal,
                         gas=gas, type=2, maxFeePerGas=1, maxPriorityFeePerGas=1, data=b"")
            signed = account.sign_transaction(probe)
            raw = signed.raw_transaction if hasattr(signed, "raw_transaction") else signed.rawTransaction
            l1 = self.op_stack_l1_fee("0x" + bytes(raw).hex())
        plan = evm_sweep_plan(bal, base if base is not None else 0, prio, gas=gas, l1_fee=l1,
                              l1_margin_pct=l1_margin_pct, base_fee_multiplier=2 if base is not None else 1)
        if plan["value"] == 0:
            out.update(action="dust", reason=plan["reason"], old_after=bal, new_after=dest_before, dust=bal)
            return out
        if check_mode:
            out.update(action="would_sweep", amount=plan["value"], fee=plan["fee"], old_after=None, new_after=None,
                       dust=plan["dust"])
            return out
        tx = dict(chainId=self.chain_id or self.check_chain_id(), nonce=nonce, to=to_address, value=plan["value"],
                  gas=gas, data=b"")
        if base is None:
            tx["gasPrice"] = plan["price"]
        else:
            # Pinned price: maxFee == maxPriority, so the fee is exactly gas * price.
            tx.update(type=2, maxFeePerGas=plan["price"], maxPriorityFeePerGas=plan["price"])
        tx_hash, rec = self._send(account, tx, timeout)
        after = self.balance(old)
        out.update(action="swept", amount=plan["value"], tx=tx_hash, fee=effective_fee(rec),
                   block=_int(rec.get("blockNumber")), old_after=after, new_after=self.balance(to_address),
                   dust=after)
        return out

    def tx_sender(self, tx_hash):
        tx = self.rpc.call("eth_getTransactionByHash", tx_hash) or {}
        sender = tx.get("from")
        if not sender:
            return None
        from eth_utils import to_checksum_address

        return to_checksum_address(sender)


def _abi_bytes(hex_data):
    """ABI-encode one dynamic `bytes` argument."""
    data = bytes.fromhex(hex_data[2:] if hex_data.startswith("0x") else hex_data)
    head = (32).to_bytes(32, "big").hex()
    length = len(data).to_bytes(32, "big").hex()
    padded = data + b"\0" * ((32 - len(data) % 32) % 32)
    return head + length + padded.hex()
