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


def pick_credential(creds, registry=None):
    """The credential for `registry` (host), or the only one."""
    if registry:
        for c in creds:
            if c.registry == registry:
                return c
        if len(creds) == 1:
            return creds[0]
        raise EcrTokenError(f"no authorization data for registry {registry}")
    return creds[0]


def docker_config_path(explicit=None, environ=None):
    environ = os.environ if environ is None else environ
    if explicit:
        return explicit
    base = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def merge_docker_auth(config, registry, auth):
    """Return (new config dict, changed) with auths[registry].auth = auth.
    Other registries, credHelpers and settings are kept; a credHelper for the
    same registry would shadow the entry, so it is removed."""
    new = json.loads(json.dumps(config or {}))
    auths = new.setdefault("auths", {})
    entry = auths.get(registry) or {}
    changed = entry.get("auth") != auth
    auths[registry] = dict(entry, auth=auth)
    helpers = new.get("credHelpers") or {}
    if registry in helpers:
        helpers.pop(registry)
        changed = True
    return new, changed


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
