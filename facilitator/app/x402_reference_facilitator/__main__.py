"""Entry point: ``python -m x402_reference_facilitator`` (or ``x402-reference-facilitator``)."""

from __future__ import annotations

import logging
import os
import sys
import time


class _TracingFormatter(logging.Formatter):
    """Mimic tracing-subscriber's default line: ``<rfc3339>Z  INFO target: message``."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created))
        level = {"WARNING": "WARN", "CRITICAL": "ERROR"}.get(record.levelname, record.levelname)
        line = f"{ts}.{int((record.created % 1) * 1_000_000):06d}Z {level:>5} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_TracingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK logs every typed-data check at INFO; keep that at DEBUG-only volume.
    if logging.getLevelName(level) > logging.DEBUG:
        for noisy in ("x402", "web3", "urllib3", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    from . import config as config_mod

    setup_logging(config_mod._log_level(os.environ))
    log = logging.getLogger("x402_reference_facilitator")
    try:
        cfg = config_mod.load()
    except config_mod.ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        log.error("Failed to start facilitator: %s", exc)
        return 1

    from .redact import RedactingFilter, Redactor

    redacting = RedactingFilter(Redactor(n.rpc_url for n in cfg.networks))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)

    from . import facilitator as fac_mod
    from .app import create_app

    try:
        fac = fac_mod.build(cfg)
    except Exception as exc:  # e.g. an SDK component refusing a value
        print(f"Error: failed to initialize providers: {exc}", file=sys.stderr, flush=True)
        return 1
    app = create_app(cfg, fac)

    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"

    access_log = (os.environ.get("ACCESS_LOG") or "").lower() in ("1", "true", "yes", "on")
    log.info("Starting server at http://%s:%d version=%s networks=%d", cfg.host, cfg.port, cfg.version,
             len(cfg.networks))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=cfg.host,
            port=cfg.port,
            loop=loop,
            http=http,
            log_config=None,
            access_log=access_log,
            # Behind an ALB the target's keep-alive must outlive the LB idle timeout.
            timeout_keep_alive=int(os.environ.get("KEEPALIVE_TIMEOUT_SECONDS") or 75),
            # SIGTERM (ECS stopping a task after the target's deregistration delay): stop
            # accepting, let the requests in flight finish (a /settle waiting for its
            # receipt included), then exit; within the container's stopTimeout (ECS
            # default 30 s), after which the agent sends SIGKILL.
            timeout_graceful_shutdown=float(os.environ.get("SHUTDOWN_GRACE_SECONDS") or 25),
            backlog=2048,
            server_header=False,
        )
    )
    # uvicorn handles SIGTERM/SIGINT while it runs, then re-raises the signal under the
    # handler that was there before: a no-op one, so a graceful stop exits 0.
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run()
    log.info("Stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
