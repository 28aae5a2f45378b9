# -*- coding: utf-8 -*-
"""Wallet secrets: read a version's {private_key, address}, generate a new key
INSIDE this process and store it as AWSPENDING, move the stages.

Nothing returned from here holds key material: `Wallet` keeps the key in a
slot that its repr hides, and callers only return `.address`/`.kind`.
"""
from __future__ import annotations

import json
import uuid

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.common.digests import short
from ansible.module_utils.facilitator_ops.common.digests import value_digest
from ansible.module_utils.facilitator_ops.common.keys import wallet_address_matches
from ansible.module_utils.facilitator_ops.wallet.state import CURRENT
from ansible.module_utils.facilitator_ops.wallet.state import PENDING
from ansible.module_utils.facilitator_ops.wallet.state import phase_of

WALLET_SHAPE = ("address", "private_key")
# On the secret (readable by every operator): "<version id> <epoch> <batch>" of the last rotation
# this tool finished, which the recent-rotation guard reads.
ROTATED_TAG = "facilitator-ops:rotated"
# The rotation (one run's set of wallets, resumed by later runs) a secret's AWSPENDING belongs to,
# written before AWSPENDING: a resumed run never starts a wallet again that finished in it.
BATCH_TAG = "facilitator-ops:rotation-batch"
# "<pending version id> <signature> <last valid block height>" of a Solana transfer sent and not
# yet seen confirmed, per network and mode: a rerun checks it before sending again.
INFLIGHT_TAG = "facilitator-ops:inflight:{mode}:{network}"
# "<new version id> <epoch>": the sweep of the old wallet into this rotation's new version has started
# (written before the first sweep transfer is sent). From then on the rotation only goes forward: a
# failed redeploy or proof never moves AWSCURRENT back onto the (partly) emptied old key.
SWEEP_TAG = "facilitator-ops:sweep-started"


class WalletSecretError(Exception):
    """Safe to print: names secrets, versions and addresses, never values."""


class Wallet:
    """One wallet version held in memory. `signer()` gives the eth-account
    account or the solders keypair for signing; never serialise this."""

    __slots__ = ("kind", "address", "version_id", "_key")

    def __init__(self, kind, address, version_id, key):
        self.kind = kind
        self.address = address
        self.version_id = version_id
        self._key = key

    def __repr__(self):
        return f"Wallet({self.kind}, {self.address}, {self.version_id})"

    def signer(self):
        if self.kind == "evm":
            from eth_account import Account

            return Account.from_key(self._key)
        from solders.keypair import Keypair

        return Keypair.from_base58_string(self._key)

    def public(self):
        return dict(kind=self.kind, address=self.address, version_id=self.version_id)


def sweep_started_of(tags):
    """The SWEEP_TAG of a secret's tags -> {version, epoch} or None."""
    parts = str((tags or {}).get(SWEEP_TAG) or "").split()
    if len(parts) != 2 or not parts[1].isdigit():
        return None
    return dict(version=parts[0], epoch=int(parts[1]))


def rotated_of(tags):
    """The ROTATED_TAG of a secret's tags -> {version, epoch, batch} or None."""
    parts = str((tags or {}).get(ROTATED_TAG) or "").split()
    if len(parts) not in (2, 3) or not parts[1].isdigit():
        return None
    return dict(version=parts[0], epoch=int(parts[1]), batch=parts[2] if len(parts) == 3 else None)


class InflightRecord:
    """What SolanaChain needs to record a transfer before sending it, bound to one secret, network and mode."""

    def __init__(self, ws, mode, network, version):
        self.ws, self.mode, self.network, self.version = ws, mode, network, version

    def get(self):
        rec = self.ws.inflight(self.mode, self.network)
        return rec if rec and rec["version"] == self.version else None

    def put(self, signature, last_valid_block_height):
        self.ws.set_inflight(self.mode, self.network, self.version, signature, last_valid_block_height)

    def clear(self):
        self.ws.clear_inflight(self.mode, self.network)


def generate(kind):
    """A new wallet document, generated here (eth-account / solders)."""
    if kind == "evm":
        from eth_account import Account

        acct = Account.create()
        return {"private_key": "0x" + bytes(acct.key).hex(), "address": acct.address}
    if kind == "solana":
        from solders.keypair import Keypair

        kp = Keypair()
        return {"private_key": str(kp), "address": str(kp.pubkey())}
    raise WalletSecretError(f"unknown wallet kind {kind!r} (evm, solana)")


def parse_wallet(text, kind, label, version_id):
    """Validate a wallet document and return a Wallet (or raise, naming only
    key names)."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        raise WalletSecretError(f"{label} ({version_id}): not a JSON object") from None
    if not isinstance(doc, dict):
        raise WalletSecretError(f"{label} ({version_id}): not a JSON object")
    missing = [k for k in WALLET_SHAPE if k not in doc]
    if missing:
        raise WalletSecretError(f"{label} ({version_id}): missing key(s) {', '.join(missing)} "
                                f"(a wallet secret is {{private_key, address}})")
    extra = sorted(set(doc) - set(WALLET_SHAPE))
    if extra:
        raise WalletSecretError(f"{label} ({version_id}): unexpected key(s) {', '.join(extra)}: a new version would "
                                f"drop them; only {{private_key, address}} is supported")
    ok, found = wallet_address_matches(doc)
    if found != kind:
        raise WalletSecretError(f"{label} ({version_id}): holds a {found or 'unknown'} key, expected {kind}")
    if not ok:
        raise WalletSecretError(f"{label} ({version_id}): the address does not belong to the private key")
    return Wallet(kind, doc["address"], version_id, doc["private_key"])


class WalletSecret:
    """One wallet secret (an ARN in its region) through a boto3 client.

    `kind` (evm, solana) is needed to read or create a key; moving version
    stages works on any wallet secret, so it may be None there."""

    def __init__(self, client, arn, kind=None, label=None, aws_retry=True):
        self.client = client
        self.aws_retry = aws_retry
        self.arn = arn
        self.kind = kind
        self.label = label or arn.split(":")[-1]

    def _call(self, name, **kw):
        fn = getattr(self.client, name)
        if self.aws_retry:  # AnsibleAWSModule's retrying wrapper; a plain boto3 client (tests) has none
            kw["aws_retry"] = True
        return fn(**kw)

    def describe(self):
        d = self._call("describe_secret", SecretId=self.arn)
        if d.get("DeletedDate"):
            raise WalletSecretError(f"{self.label}: the secret is scheduled for deletion")
        return d

    def state(self):
        d = self.describe()
        st = phase_of(d.get("VersionIdsToStages") or {})
        st["stages"] = d.get("VersionIdsToStages") or {}
        st["arn"] = d["ARN"]
        st["name"] = d.get("Name")
        st["tags"] = {t.get("Key"): t.get("Value") for t in d.get("Tags") or []}
        st["rotated"] = rotated_of(st["tags"])
        st["batch"] = st["tags"].get(BATCH_TAG)
        st["sweep_started"] = sweep_started_of(st["tags"])
        return st

    def read(self, version_id):
        if self.kind is None:
            raise WalletSecretError(f"{self.label}: reading a wallet version needs its kind (evm, solana)")
        resp = self._call("get_secret_value", SecretId=self.arn, VersionId=version_id)
        if resp.get("SecretString") is None:
            raise WalletSecretError(f"{self.label} ({version_id}): binary secret, expected a JSON wallet document")
        return parse_wallet(resp["SecretString"], self.kind, self.label, version_id)

    def current(self):
        """The AWSCURRENT wallet (a funding wallet's: its address, and its signer inside the module)."""
        return self.read(self.state()["current"])

    def create_pending(self, check_mode=False, batch=None):
        """Reuse AWSPENDING when present, else generate a key and store it as
        AWSPENDING (after tagging the secret with the rotation `batch`).
        Returns (wallet or None in check mode, created)."""
        st = self.state()
        if st["pending"] is not None:
            return self.read(st["pending"]), False
        if check_mode:
            return None, True
        if batch:
            self._call("tag_resource", SecretId=self.arn, Tags=[{"Key": BATCH_TAG, "Value": str(batch)}])
        doc = generate(self.kind)
        token = str(uuid.uuid4())
        text = json.dumps(doc)
        digest = short(value_digest(string_value=text))
        resp = self._call("put_secret_value", SecretId=self.arn, SecretString=text, VersionStages=[PENDING],
                          ClientRequestToken=token)
        crashpoint.wrote(f"wallet_pending_key {self.label}: AWSPENDING written")
        del doc, text
        vid = resp.get("VersionId", token)
        after = self.state()
        if after["pending"] != vid:
            raise WalletSecretError(
                f"{self.label}: AWSPENDING moved to {after['pending']} while this run created {vid}: another "
                f"rotation is running; stop it, then rerun (the orphan version {vid} holds no funds)")
        wallet = self.read(vid)
        written = self._call("get_secret_value", SecretId=self.arn, VersionId=vid)["SecretString"]
        if short(value_digest(string_value=written)) != digest:
            raise WalletSecretError(f"{self.label}: the stored AWSPENDING version differs from what was written")
        return wallet, True

    def move_current(self, to_version, from_version):
        """AWSCURRENT -> to_version (the version losing it becomes AWSPREVIOUS)."""
        if to_version == from_version:
            return False
        self._call("update_secret_version_stage", SecretId=self.arn, VersionStage=CURRENT,
                   MoveToVersionId=to_version, RemoveFromVersionId=from_version)
        crashpoint.wrote(f"wallet_secret_stage {self.label}: AWSCURRENT moved")
        return True

    def mark_rotated(self, new_version, now):
        """Before AWSPENDING goes: the tag the recent-rotation guard reads, on the secret itself (with the
        rotation's batch)."""
        batch = self.state()["batch"] or "-"
        self._call("tag_resource", SecretId=self.arn,
                   Tags=[{"Key": ROTATED_TAG, "Value": f"{new_version} {int(now)} {batch}"}])
        crashpoint.wrote(f"wallet_secret_stage {self.label}: rotation recorded")

    def mark_sweep_started(self, new_version, now):
        """Before the first sweep transfer: from now on this rotation only goes forward (no rollback onto
        the old key). Idempotent: an existing mark for the same version is kept (its time is the first sweep's)."""
        rec = self.state()["sweep_started"]
        if rec and rec["version"] == new_version:
            return False
        self._call("tag_resource", SecretId=self.arn,
                   Tags=[{"Key": SWEEP_TAG, "Value": f"{new_version} {int(now)}"}])
        return True

    # -- Solana transfers in flight (on the secret, with the pending version)
    def inflight(self, mode, network):
        tags = self.state()["tags"]
        raw = tags.get(INFLIGHT_TAG.format(mode=mode, network=network))
        if not raw:
            return None
        parts = raw.split()
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        return dict(version=parts[0], signature=parts[1], last_valid_block_height=int(parts[2]))

    def set_inflight(self, mode, network, version, signature, last_valid_block_height):
        self._call("tag_resource", SecretId=self.arn, Tags=[{"Key": INFLIGHT_TAG.format(mode=mode, network=network),
                                                             "Value": f"{version} {signature} {int(last_valid_block_height)}"}])

    def clear_inflight(self, mode, network):
        self._call("untag_resource", SecretId=self.arn, TagKeys=[INFLIGHT_TAG.format(mode=mode, network=network)])

    def remove_pending(self, version_id):
        self._call("update_secret_version_stage", SecretId=self.arn, VersionStage=PENDING,
                   RemoveFromVersionId=version_id)
        crashpoint.wrote(f"wallet_secret_stage {self.label}: AWSPENDING removed")
        return True
