# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""ECR authorization tokens and docker credentials, without the token ever
leaving the module process.

`ecr:GetAuthorizationToken` returns, per registry, a base64 `AWS:<password>`
token, its expiry and the registry's proxy endpoint. The password is what
`docker login -u AWS --password-stdin` takes. Nothing here returns or logs it:
callers get the registry host, the user name and the expiry only.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from dataclasses import dataclass
from urllib.parse import urlparse


class EcrTokenError(ValueError):
    pass


@dataclass(frozen=True)
class EcrCredential:
    registry: str          # host[:port], e.g. 123456789012.dkr.ecr.us-east-2.amazonaws.com
    proxy_endpoint: str
    username: str
    password: str          # never returned, never logged
    expires_at: str        # ISO 8601, or "" when not given

    def __repr__(self):  # keep the password out of tracebacks and debug prints
        return f"EcrCredential(registry={self.registry!r}, username={self.username!r}, expires_at={self.expires_at!r})"

    __str__ = __repr__

    def public(self):
        return {"registry": self.registry, "proxy_endpoint": self.proxy_endpoint,
                "username": self.username, "expires_at": self.expires_at}

    def docker_auth(self):
        """The `auth` value of a docker config entry (base64 user:password)."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def basic_header(self):
        return "Basic " + self.docker_auth()


def registry_host(endpoint):
    """`https://123.dkr.ecr.us-east-2.amazonaws.com` -> host[:port]."""
    endpoint = (endpoint or "").strip()
    if not endpoint:
        raise EcrTokenError("authorization data without a proxyEndpoint")
    parsed = urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
    if not parsed.hostname:
        raise EcrTokenError("authorization data with an unparsable proxyEndpoint")
    return parsed.netloc


def decode_token(token):
    """base64 `user:password` -> (user, password). Errors never include the token."""
    try:
        raw = base64.b64decode(token or "", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise EcrTokenError("authorizationToken is not base64 of 'user:password'") from None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise EcrTokenError("authorizationToken is not of the form 'user:password'")
    return user, password


def _iso(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def parse_authorization(response):
    """GetAuthorizationToken response -> [EcrCredential]."""
    data = (response or {}).get("authorizationData") or []
    if not data:
        raise EcrTokenError("GetAuthorizationToken returned no authorization data")
    out = []
    for item in data:
        user, password = decode_token(item.get("authorizationToken"))
        out.append(EcrCredential(
            registry=registry_host(item.get("proxyEndpoint")),
            proxy_endpoint=item.get("proxyEndpoint"),
            username=user,
            password=password,
            expires_at=_iso(item.get("expiresAt")),
        ))
    return out


def fetch_credentials(client, registry_ids=None, **call_kwargs):
    """Call GetAuthorizationToken (call_kwargs e.g. aws_retry=True) and parse it."""
    kwargs = dict(call_kwargs)
    if registry_ids:
        kwargs["registryIds"] = list(registry_ids)
    return parse_authorization(client.get_authorization_token(**kwargs))


def pick_credential(creds, registry):
    """The credential GetAuthorizationToken issued for `registry` (the host of its
    proxyEndpoint), and for no other: an ECR token is valid for its own registry
    only, and sending it anywhere else hands it to another host. No fallback to
    "the only token" (pin the registry host instead)."""
    if not registry:
        raise EcrTokenError("no registry host to pick the ECR credential for")
    for c in creds:
        if c.registry == registry:
            return c
    hosts = ", ".join(sorted(c.registry for c in creds)) or "none"
    raise EcrTokenError(f"GetAuthorizationToken returned no credential for registry {registry} (only for: {hosts})")


def docker_config_path(explicit=None, environ=None):
    environ = os.environ if environ is None else environ
    if explicit:
        return explicit
    base = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def merge_docker_auth(config, registry, auth):
    """Return (new config dict, changed) with auths[registry].auth = auth; other
    registries and settings are kept. Only for a config without a credential
    helper for `registry` (see credential_helper)."""
    new = json.loads(json.dumps(config or {}))
    auths = new.setdefault("auths", {})
    entry = auths.get(registry) or {}
    changed = entry.get("auth") != auth
    auths[registry] = dict(entry, auth=auth)
    return new, changed


def credential_helper(config, registry):
    """The credential helper the Docker client uses for `registry`: credHelpers[registry],
    else credsStore, else None (then the inline `auths` entry is what it reads)."""
    cfg = config or {}
    return (cfg.get("credHelpers") or {}).get(registry) or cfg.get("credsStore") or None


def store_with_helper(helper, registry, username, password, runner=None, path_lookup=None):
    """Store the credential through docker-credential-<helper> (the credential on its
    stdin, never in argv); -> True when it changed. Raises EcrTokenError, naming the
    helper and never the credential, when the helper is missing or fails."""
    import shutil
    import subprocess

    runner = runner or subprocess.run
    exe = (path_lookup or shutil.which)(f"docker-credential-{helper}")
    if not exe:
        raise EcrTokenError(
            f"the docker config stores credentials with the helper '{helper}' (credsStore/credHelpers) but "
            f"docker-credential-{helper} is not on PATH: install it, or set docker_config to a config without it")
    got = runner([exe, "get"], input=registry, capture_output=True, text=True, timeout=30)
    if got.returncode == 0:
        try:
            cur = json.loads(got.stdout or "{}")
        except ValueError:
            cur = {}
        if cur.get("Username") == username and cur.get("Secret") == password:
            return False
    doc = json.dumps({"ServerURL": registry, "Username": username, "Secret": password})
    res = runner([exe, "store"], input=doc, capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise EcrTokenError(f"docker-credential-{helper} store failed for {registry} (exit {res.returncode})")
    return True


def read_docker_config(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise EcrTokenError(f"cannot read docker config {path}: {e.__class__.__name__}") from None


def write_docker_config(path, config):
    """Atomic write, mode 0600 (the file holds registry credentials)."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".config.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def registry_id_of(host):
    """`123456789012.dkr.ecr.us-east-2.amazonaws.com` -> "123456789012" (None for another host)."""
    first, _, rest = (host or "").partition(".")
    return first if first.isdigit() and len(first) == 12 and rest.startswith("dkr.ecr.") else None


def credential_for(client, registry, ecr_registry=None, **call_kwargs):
    """The ECR credential to send to `registry`: the one GetAuthorizationToken issues for
    `ecr_registry` (default `registry` itself), and only that one."""
    host = ecr_registry or registry
    rid = registry_id_of(host)
    return pick_credential(fetch_credentials(client, [rid] if rid else None, **call_kwargs), host)
