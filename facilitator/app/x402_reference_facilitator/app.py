"""HTTP surface of the reference facilitator (Starlette, served by uvicorn).

Routes (as production):
  GET  /           branded landing page (static/index.html, loaded at import time)
  GET  /health     {"status":"healthy"} -- checks nothing, like production
  GET  /version    {"version": <FACILITATOR_VERSION>}
  GET  /supported  kinds (v1 name + CAIP-2 per network), extensions, signers
  GET  /verify, GET /settle   short machine-readable descriptions
  POST /verify     {isValid, payer, invalidReason?}  (rate-limited per client IP)
  POST /settle     {success, errorReason?, payer, transaction, network}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from importlib import resources
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .config import Config
from .facilitator import ReferenceFacilitator
from .ratelimit import TokenBucketLimiter, client_ip
from .redact import Redactor

log = logging.getLogger("x402_reference_facilitator")

# Like production's include_str!("../static/index.html"): read once, at import.
INDEX_HTML: bytes = (
    resources.files(__package__).joinpath("static/index.html").read_bytes()
)

JSON = "application/json"
_HEALTH = b'{"status":"healthy"}'
_VERIFY_INFO = json.dumps(
    {
        "endpoint": "/verify",
        "description": "POST to verify x402 payments",
        "body": {"paymentPayload": "PaymentPayload", "paymentRequirements": "PaymentRequirements"},
    }
).encode()
_SETTLE_INFO = json.dumps(
    {
        "endpoint": "/settle",
        "description": "POST to settle x402 payments",
        "body": {"paymentPayload": "PaymentPayload", "paymentRequirements": "PaymentRequirements"},
    }
).encode()


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")).encode(), status, headers, JSON)


def _dump(model: Any, redact: Any = None) -> dict[str, Any]:
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if redact is not None:
        for key in ("invalidMessage", "errorMessage"):
            if key in data:
                data[key] = redact(data[key])
    return data


class BadRequest(Exception):
    pass


def _parse_request(raw: bytes) -> tuple[int, Any, Any]:
    """Body ``{x402Version?, paymentPayload, paymentRequirements}`` -> SDK models."""
    from pydantic import ValidationError
    from x402.schemas import parse_payment_payload, parse_payment_requirements

    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    payload = body.get("paymentPayload")
    requirements = body.get("paymentRequirements")
    if not isinstance(payload, dict) or not isinstance(requirements, dict):
        raise BadRequest("paymentPayload and paymentRequirements must be JSON objects")
    version = payload.get("x402Version", body.get("x402Version"))
    if version not in (1, 2):
        raise BadRequest(f"unsupported x402Version {version!r} (expected 1 or 2)")
    payload = {**payload, "x402Version": version}
    try:
        return (
            version,
            parse_payment_payload(payload),
            parse_payment_requirements(version, requirements),
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise BadRequest(f"invalid payment payload or requirements: {exc}") from None


def _scheme_network(version: int, payload: Any) -> tuple[str, str]:
    if version == 1:
        return payload.scheme, payload.network
    return payload.accepted.scheme, payload.accepted.network


def _payer_hint(payload: Any) -> str | None:
    try:
        return payload.payload["authorization"]["from"]
    except Exception:
        return None


def create_app(cfg: Config, fac: ReferenceFacilitator) -> Starlette:
    version_body = json.dumps({"version": cfg.version}, separators=(",", ":")).encode()
    supported_body = json.dumps(_dump(fac.get_supported()), separators=(",", ":")).encode()
    limiter = TokenBucketLimiter(cfg.verify_rate_limit.per_second, cfg.verify_rate_limit.burst)
    trust_forwarded = cfg.verify_rate_limit.trust_forwarded
    redact = Redactor(n.rpc_url for n in cfg.networks)

    async def index(_: Request) -> Response:
        return Response(INDEX_HTML, 200, media_type="text/html; charset=utf-8")

    async def health(_: Request) -> Response:
        return Response(_HEALTH, 200, media_type=JSON)

    async def version(_: Request) -> Response:
        return Response(version_body, 200, media_type=JSON)

    async def supported(_: Request) -> Response:
        return Response(supported_body, 200, media_type=JSON)

    async def verify_info(_: Request) -> Response:
        return Response(_VERIFY_INFO, 200, media_type=JSON)

    async def settle_info(_: Request) -> Response:
        return Response(_SETTLE_INFO, 200, media_type=JSON)

    async def verify(request: Request) -> Response:
        ip = client_ip(request.headers, request.client.host if request.client else None, trust_forwarded)
        allowed, remaining, retry = limiter.acquire(ip)
        if not allowed:
            wait = max(1, int(retry + 0.999))
            return _json(
                {
                    "error": "Too many requests",
                    "code": "rate_limited",
                    "hint": f"rate limit per client IP exceeded; retry after {wait} s",
                },
                429,
                {"retry-after": str(wait), "x-ratelimit-limit": str(limiter.burst), "x-ratelimit-remaining": "0"},
            )
        try:
            ver, payload, requirements = _parse_request(await request.body())
        except BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        scheme, network = _scheme_network(ver, payload)
        if not fac.is_supported(ver, scheme, network):
            return _json({"isValid": False, "invalidReason": "invalid_network", "payer": _payer_hint(payload),
                          "invalidMessage": f"scheme {scheme!r} on network {network!r} is not supported"})
        try:
            result = await run_in_threadpool(fac.verify, payload, requirements)
        except Exception as exc:  # RPC down, SDK error: never crash the worker
            log.warning("verify failed network=%s error=%s", network, redact(str(exc)))
            return _json({"isValid": False, "invalidReason": "unexpected_verify_error",
                          "invalidMessage": redact(str(exc)), "payer": _payer_hint(payload)}, 500)
        log.info("verify network=%s payer=%s valid=%s reason=%s", network, result.payer, result.is_valid,
                 result.invalid_reason)
        if result.invalid_message:
            log.debug("verify detail: %s", redact(result.invalid_message))
        headers = {"x-ratelimit-limit": str(limiter.burst), "x-ratelimit-remaining": str(remaining)} if limiter.enabled else None
        return _json(_dump(result, redact), 200, headers)

    async def settle(request: Request) -> Response:
        try:
            ver, payload, requirements = _parse_request(await request.body())
        except BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        scheme, network = _scheme_network(ver, payload)
        if not fac.is_supported(ver, scheme, network):
            return _json({"success": False, "errorReason": "invalid_network", "payer": _payer_hint(payload),
                          "transaction": "", "network": network,
                          "errorMessage": f"scheme {scheme!r} on network {network!r} is not supported"})
        try:
            result = await run_in_threadpool(fac.settle, payload, requirements)
        except Exception as exc:
            log.warning("settle failed network=%s error=%s", network, redact(str(exc)))
            return _json({"success": False, "errorReason": "unexpected_settle_error", "errorMessage": redact(str(exc)),
                          "payer": _payer_hint(payload), "transaction": "", "network": network}, 500)
        log.info("settle network=%s payer=%s success=%s tx=%s reason=%s", network, result.payer, result.success,
                 result.transaction, result.error_reason)
        return _json(_dump(result, redact))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/supported", supported, methods=["GET"]),
        Route("/verify", verify_info, methods=["GET"]),
        Route("/verify", verify, methods=["POST"]),
        Route("/settle", settle_info, methods=["GET"]),
        Route("/settle", settle, methods=["POST"]),
    ]
    worker_threads = int(os.environ.get("WORKER_THREADS") or 64)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        # verify/settle run the SDK's blocking web3 calls in worker threads; settle
        # may wait minutes for a receipt, so allow more than anyio's default 40.
        anyio.to_thread.current_default_thread_limiter().total_tokens = worker_threads
        yield

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.config = cfg
    app.state.facilitator = fac
    app.state.limiter = limiter
    return app
