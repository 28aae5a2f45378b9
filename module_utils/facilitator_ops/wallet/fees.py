# -*- coding: utf-8 -*-
"""Fee and amount arithmetic of the wallet rotation, as pure integer functions.

Amounts are integers in the chain's smallest unit (wei, lamports); operators
write decimal strings in native units ("0.5" ETH, "5" AVAX, "1" SOL) in the
inventory. Nothing here talks to a network: tests/unit/test_wallet_fees.py.

EVM (EIP-1559). A type-2 transaction pays
    effective_price = min(maxFeePerGas, baseFee + maxPriorityFeePerGas)
per unit of gas, and the sender must hold value + gas_limit * maxFeePerGas when
it is included. So
  * a FUNDING transfer uses the usual caps (maxFee = 2 * baseFee + tip): it is
    mined even if the base fee doubles, and costs gasUsed * effectivePrice
    (read from the receipt: that is what the conservation check adds up);
  * a SWEEP must leave nothing behind, so it pins the price: maxFeePerGas ==
    maxPriorityFeePerGas == P (P >= 2 * baseFee + tip). Then
    effective_price = min(P, baseFee + P) = P whatever the base fee is, the fee
    is exactly gas_limit * P (a plain transfer to an account without code uses
    exactly 21000 gas) and value = balance - gas * P empties the wallet to 0.
    The overpaid "tip" is the price of certainty and is reported as gas spent.
  * OP-stack chains (Base, Optimism) add an L1 data fee that gas * price does
    not cover; for those the sweep also subtracts the L1 fee quoted by the
    GasPriceOracle plus a margin, and whatever the margin leaves is reported as
    dust (the network's `l1_fee: op-stack`).
Solana: the fee of a message is quoted exactly by getFeeForMessage (5000
lamports per signature without priority fees); a sweep sends balance - fee, a
funded new account must end at or above the rent-exempt minimum.
"""
from __future__ import annotations

from decimal import ROUND_DOWN
from decimal import Decimal
from decimal import InvalidOperation

WEI_DECIMALS = 18
LAMPORT_DECIMALS = 9
TRANSFER_GAS = 21000
SOLANA_RENT_EXEMPT_MIN = 890880  # lamports, a 0-data system account


class TransferRefused(Exception):
    """A transfer refused before anything was sent (EVM or Solana), safe to print."""


class FeeError(Exception):
    pass


def decimals_for(kind):
    return LAMPORT_DECIMALS if kind == "solana" else WEI_DECIMALS


def to_base_units(amount, decimals):
    """'0.5' -> 500000000000000000 (decimals=18). Refuses negatives, more
    precision than the unit has, and non-numbers."""
    try:
        d = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise FeeError(f"not a number: {amount!r}") from None
    if not d.is_finite() or d < 0:
        raise FeeError(f"not a non-negative amount: {amount!r}")
    scaled = d.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise FeeError(f"{amount!r} has more than {decimals} decimals")
    return int(scaled)


def from_base_units(value, decimals, places=None):
    """500000000000000000 -> '0.5'. Exact (no float), trailing zeros trimmed."""
    d = Decimal(int(value)).scaleb(-decimals)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    s = format(d.normalize(), "f") if d != 0 else "0"
    return s


def evm_fund_fees(base_fee, priority_fee, gas=TRANSFER_GAS, base_fee_multiplier=2):
    """Caps for a funding transfer: (max_fee_per_gas, max_priority_fee_per_gas,
    max_cost). max_cost is what the sender must hold beyond the value."""
    base_fee, priority_fee = int(base_fee), int(priority_fee)
    if base_fee < 0 or priority_fee < 0:
        raise FeeError("negative fee")
    max_fee = base_fee * int(base_fee_multiplier) + priority_fee
    return max_fee, priority_fee, max_fee * int(gas)


def evm_sweep_price(base_fee, priority_fee, base_fee_multiplier=2):
    """The pinned price P of a sweep (maxFee == maxPriority == P)."""
    price = int(base_fee) * int(base_fee_multiplier) + int(priority_fee)
    return max(price, 1)


def evm_sweep_plan(balance, base_fee, priority_fee, gas=TRANSFER_GAS, l1_fee=0, l1_margin_pct=10,
                   base_fee_multiplier=2, min_value=1):
    """How much a sweep can send so that nothing but reported dust stays.

    Returns dict(value, price, gas, fee, l1_reserve, dust, reason). value 0
    means nothing is worth sending (the balance does not cover the fee): the
    whole balance is then dust."""
    balance = int(balance)
    price = evm_sweep_price(base_fee, priority_fee, base_fee_multiplier)
    fee = price * int(gas)
    l1_reserve = 0
    if l1_fee:
        l1_reserve = int(l1_fee) + (int(l1_fee) * int(l1_margin_pct) + 99) // 100
    value = balance - fee - l1_reserve
    if value < int(min_value):
        return dict(value=0, price=price, gas=int(gas), fee=0, l1_reserve=0, dust=balance,
                    reason="balance does not cover the transfer fee" if balance else "empty")
    # L1 fee is charged for real; what the margin leaves is dust (known only
    # after the receipt, reported then). Without L1 fee the dust is exactly 0.
    return dict(value=value, price=price, gas=int(gas), fee=fee, l1_reserve=l1_reserve,
                dust=l1_reserve, reason="")


def fund_need(target, new_balance):
    """What the new wallet still needs to reach the target (0 = funded)."""
    return max(0, int(target) - int(new_balance))


def fund_check(old_balance, need, max_cost, reserve=0):
    """Can the old wallet pay `need` plus the fee cap and keep `reserve`?
    The rotation passes the network's floor as `reserve`: the old wallet is the
    live signer until the new one is proven, and a failed proof rolls back to
    it, so it must never be left with less. Returns (ok, shortfall)."""
    required = int(need) + int(max_cost) + int(reserve)
    short = required - int(old_balance)
    return short <= 0, max(0, short)


def effective_fee(receipt):
    """Fee actually paid by a mined EVM transaction, from its receipt (hex or int)."""
    def _int(v):
        if v is None:
            return 0
        return int(v, 16) if isinstance(v, str) else int(v)

    fee = _int(receipt.get("gasUsed")) * _int(receipt.get("effectiveGasPrice"))
    # OP-stack receipts carry the L1 fee separately.
    fee += _int(receipt.get("l1Fee"))
    return fee


def solana_sweep_plan(balance, fee, min_value=1):
    balance, fee = int(balance), int(fee)
    value = balance - fee
    if value < int(min_value):
        return dict(value=0, fee=0, dust=balance, reason="balance does not cover the fee" if balance else "empty")
    return dict(value=value, fee=fee, dust=0, reason="")


def solana_fund_check(old_balance, need, fee, new_balance, reserve=SOLANA_RENT_EXEMPT_MIN):
    """A new Solana account must end rent-exempt; the old one stays the live fee
    payer until the new one is proven, so it keeps `reserve` (its floor, never
    less than the rent-exempt minimum)."""
    ok, short = fund_check(old_balance, need, fee, reserve=max(int(reserve), SOLANA_RENT_EXEMPT_MIN))
    if int(new_balance) + int(need) < SOLANA_RENT_EXEMPT_MIN and int(need) > 0:
        return False, SOLANA_RENT_EXEMPT_MIN - int(new_balance) - int(need)
    return ok, short
