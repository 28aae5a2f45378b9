"""Reference x402 facilitator built on the official x402 Python SDK.

Stands in for the production facilitator (a Rust fork of x402-rs) in tests:
same routes, same environment variables, real EIP-3009 verification and
on-chain settlement.
"""

__version__ = "1.0.0"
