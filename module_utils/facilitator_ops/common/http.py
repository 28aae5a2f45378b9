# -*- coding: utf-8 -*-
"""One way to speak HTTP(S) to a facilitator: httpx, certificates always verified.

`ca_bundle` names a PEM file of the certificate authorities to trust (the local
stack's ca.pem); unset, the system trust store is used (OpenSSL's default paths,
as curl does in production). There is no way to turn verification off.
"""
from __future__ import annotations

import os
import ssl

USER_AGENT = "facilitator-ops-probe"


def ssl_context(ca_bundle=None):
    """A verifying client context: the bundle's CAs, or the system trust store.
    A bundle that does not exist is an error naming it (never a silent fallback)."""
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise ValueError(f"CA bundle {ca_bundle} does not exist (local stack: is it up? stack/stackctl up)")
    return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()


def bundle_for(url, ca_bundle):
    """The CA bundle matters for https:// only (a container's own plain port needs none)."""
    return ca_bundle if str(url).startswith("https://") else None


def client(ca_bundle=None, timeout=10.0, **kwargs):
    import httpx

    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    headers.update(kwargs.pop("headers", {}) or {})
    return httpx.Client(verify=ssl_context(ca_bundle), timeout=timeout, headers=headers, **kwargs)


def describe_error(e):
    """A one-line reason for a transport error (certificate problems named as such)."""
    text = str(e) or e.__class__.__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return f"TLS certificate not trusted ({text.split('certificate verify failed:')[-1].strip(' )')}): " \
               "set the CA bundle (facilitator_ca_bundle) or fix the certificate"
    return f"{e.__class__.__name__}: {text}"
