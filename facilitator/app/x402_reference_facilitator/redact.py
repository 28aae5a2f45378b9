"""Keep RPC credentials out of responses and logs.

Production treats RPC URLs as secrets (API keys live in their path, query or
userinfo). The SDK copies exception text -- which for a transport error quotes
the URL -- into ``invalidMessage``/``errorMessage``; this scrubs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"


class Redactor:
    def __init__(self, urls: Iterable[str]):
        secrets: set[str] = set()
        for url in urls:
            url = url.strip()
            if not url:
                continue
            secrets.add(url)
            parts = urlsplit(url)
            if parts.username:
                secrets.add(parts.username)
            if parts.password:
                secrets.add(parts.password)
            for piece in re.split(r"[/?&=;]", parts.path + "?" + parts.query):
                if len(piece) >= 6:
                    secrets.add(piece)
            if parts.path and len(parts.path) > 1:
                secrets.add(parts.path)
        # longest first so a URL is masked whole before its pieces
        self._secrets = sorted(secrets, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter:
    """``logging`` filter applying a Redactor to every record's final message."""

    def __init__(self, redactor: Redactor):
        self._redact = redactor

    def filter(self, record) -> bool:  # logging.Filter protocol
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = self._redact(message)
        if record.exc_info:
            import logging

            exc_text = logging.Formatter().formatException(record.exc_info)
            cleaned = f"{cleaned}\n{self._redact(exc_text)}"
            record.exc_info = None
            record.exc_text = None
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
