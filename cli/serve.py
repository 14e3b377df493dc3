"""``catembed serve``: uvicorn over ``app.main:create_app``, flags written into the ``CATEMBED_*``
environment the workers read."""

from __future__ import annotations

import argparse
import os
import sys


def serve_command(args: argparse.Namespace) -> int:
    import signal

    import uvicorn

    from app.connection_guard import GuardedHttpToolsProtocol
    from app.logs import configure_logging
    from app.settings import load_settings

    # flags win over the environment; the workers uvicorn spawns read the same environment
    flags = (
        ("model_dir", "MODEL_DIR"),
        ("model_repository", "MODEL_REPOSITORY"),
        ("workers", "WORKERS"),
        ("log_level", "LOG_LEVEL"),
        ("grpc_port", "GRPC_PORT"),
    )
    for flag, name in flags:
        if getattr(args, flag) is not None:
            os.environ[f"CATEMBED_{name}"] = str(getattr(args, flag))
    os.environ.setdefault("CATEMBED_GRPC_HOST", args.host)  # gRPC listens where HTTP does, unless told otherwise
    if args.access_log:
        os.environ["CATEMBED_ACCESS_LOG"] = "true"
    settings = load_settings()  # invalid settings: one clear line and exit 2, before anything starts
    configure_logging(settings.log_level, settings.log_format)
    if settings.grpc_port == args.port:
        print(f"catembed cannot start: --grpc-port {args.port} is the HTTP --port too; give gRPC its own", file=sys.stderr)
        return 2
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; a drained
    # shutdown is a success, so the re-raised SIGTERM lands here and the exit code is 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=None,  # create_app configures logging (JSON lines by default)
        access_log=False,  # ours is CATEMBED_ACCESS_LOG, with the request id
        timeout_graceful_shutdown=settings.graceful_timeout,
        # the exposure limits (docs/reliability.md): slow or huge request heads and stalled bodies are
        # dropped by the protocol, idle keep-alive connections and connection floods by uvicorn
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
    )
    return 0
