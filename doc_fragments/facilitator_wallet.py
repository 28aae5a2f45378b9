# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# Options of the wallet rotation's modules (wallet_*).
# The matching argument-spec pieces: module_utils/facilitator_ops/common/argspec.py (WALLET_*).


class ModuleDocFragment(object):
    # The wallet secret a rotation step works on (argspec.WALLET_SECRET)
    DOCUMENTATION = r"""
options:
  secret_arn:
    description: ARN of the wallet secret; the module works in the ARN's region.
    type: str
    required: true
"""

    # argspec.WALLET_KIND
    KIND = r"""
options:
  kind:
    description: Wallet kind.
    type: str
    choices: [evm, solana]
    required: true
"""

    # The two versions of the wallet secret a rotation moves between (argspec.WALLET_VERSIONS)
    VERSIONS = r"""
options:
  old_version:
    description: Version id of the old wallet (C(AWSCURRENT) before the rotation).
    type: str
    required: true
  new_version:
    description: Version id of the new wallet (C(AWSPENDING) until the rotation finishes).
    type: str
    required: true
"""

    # Chains the module reads balances from or sends to (argspec.WALLET_CHAINS)
    CHAINS = r"""
options:
  networks:
    description:
      - Network settings by name, C(kind), C(chain_id) (EVM), C(target) and C(floor) in native units (strings),
        C(rpc_url) or C(rpc_secret)/C(rpc_key)/C(rpc_region), optional C(symbol), C(dust), C(l1_fee) (C(op-stack)),
        C(transfers) (false where no chain is reachable, with C(transfers_skip_reason)).
    type: dict
    required: true
  rpc_timeout:
    description: Seconds per JSON-RPC call.
    type: float
    default: 20
"""
