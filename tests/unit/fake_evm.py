"""An in-memory EVM JSON-RPC node for the wallet rotation's unit tests.

Applies signed transactions the way an EIP-1559 chain charges them
(effective price = min(maxFee, baseFee + maxPriority), gasUsed 21000 for a
plain transfer), mines instantly, and can be told to "crash" (raise) right
after a transaction was applied, before its hash is returned: what a killed
process sees.
"""
from __future__ import annotations

GWEI = 10**9


class Crash(Exception):
    pass


class FakeEvmNode:
    def __init__(self, balances=None, chain_id=84532, base_fee=10 * GWEI, priority=GWEI):
        self.balances = {k.lower(): v for k, v in (balances or {}).items()}
        self.nonces = {}
        self.chain_id = chain_id
        self.base_fee = base_fee
        self.base_fee_at_inclusion = None
        self.priority = priority
        self.receipts = {}
        self.mined = []
        self.pending_extra = {}
        self.crash_after_send = False

    def balance(self, addr):
        return self.balances.get(addr.lower(), 0)

    def transport(self, url, payload, timeout):
        method, params = payload["method"], payload["params"]
        fn = getattr(self, "rpc_" + method, None)
        if fn is None:
            return {"jsonrpc": "2.0", "id": payload["id"], "error": {"code": -32601, "message": f"no {method}"}}
        try:
            result = fn(*params)
        except ValueError as e:
            return {"jsonrpc": "2.0", "id": payload["id"], "error": {"code": -32000, "message": str(e)}}
        return {"jsonrpc": "2.0", "id": payload["id"], "result": result}

    def rpc_eth_chainId(self):  # noqa: N802
        return hex(self.chain_id)

    def rpc_eth_getBalance(self, addr, block):  # noqa: N802
        return hex(self.balance(addr))

    def rpc_eth_getTransactionCount(self, addr, block):  # noqa: N802
        n = self.nonces.get(addr.lower(), 0)
        return hex(n + (self.pending_extra.get(addr, 0) if block == "pending" else 0))

    def rpc_eth_getCode(self, addr, block):  # noqa: N802
        return "0x"

    def rpc_eth_getBlockByNumber(self, tag, full):  # noqa: N802
        return {"number": hex(len(self.mined)), "baseFeePerGas": hex(self.base_fee)}

    def rpc_eth_maxPriorityFeePerGas(self):  # noqa: N802
        return hex(self.priority)

    def rpc_eth_getTransactionReceipt(self, h):  # noqa: N802
        return self.receipts.get(h)

    def rpc_eth_getTransactionByHash(self, h):  # noqa: N802
        r = self.receipts.get(h)
        return {"hash": h, "from": r["from"]} if r else None

    def rpc_eth_sendRawTransaction(self, raw):  # noqa: N802
        from eth_account import Account
        from eth_account.typed_transactions import TypedTransaction
        from eth_utils import keccak
        from hexbytes import HexBytes

        data = HexBytes(raw)
        sender = Account.recover_transaction(data)
        tx = TypedTransaction.from_bytes(data).as_dict()
        if tx["chainId"] != self.chain_id:
            raise ValueError("wrong chain id")
        if tx["nonce"] != self.nonces.get(sender.lower(), 0):
            raise ValueError("nonce too low")
        base = self.base_fee if self.base_fee_at_inclusion is None else self.base_fee_at_inclusion
        if tx["maxFeePerGas"] < base:
            raise ValueError("max fee per gas less than block base fee")
        if self.balance(sender) < tx["value"] + tx["gas"] * tx["maxFeePerGas"]:
            raise ValueError("insufficient funds for gas * price + value")
        price = min(tx["maxFeePerGas"], base + tx["maxPriorityFeePerGas"])
        fee = 21000 * price
        to = "0x" + bytes(tx["to"]).hex()
        self.balances[sender.lower()] = self.balance(sender) - tx["value"] - fee
        self.balances[to.lower()] = self.balance(to) + tx["value"]
        self.nonces[sender.lower()] = tx["nonce"] + 1
        h = "0x" + keccak(bytes(data)).hex()
        self.receipts[h] = {"transactionHash": h, "status": "0x1", "gasUsed": hex(21000),
                            "effectiveGasPrice": hex(price), "blockNumber": hex(len(self.mined) + 1),
                            "from": sender}
        self.mined.append(dict(hash=h, sender=sender, to=to, value=tx["value"], fee=fee))
        if self.crash_after_send:
            self.crash_after_send = False
            raise Crash("killed after the transaction was sent")
        return h
