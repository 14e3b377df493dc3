"""Structured logs: one JSON object per line on stderr, each carrying the request id.

The request id lives in a context variable, so every log line written while a request is
handled (by the route, the predictor, an error handler, a worker thread) carries it without
being passed around.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("catembed_request_id", default=None)
# attributes every LogRecord has; anything else was passed with ``extra=`` and belongs in the line
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName", "color_message"}
_LOGGERS = ("catembed", "uvicorn", "uvicorn.error")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """For people at a terminal: ``time level [request id] message key=value…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_"))
        rid = request_id.get()
        return text + (f" {extras}" if extras else "") + (f" request_id={rid}" if rid else "")


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Route catembed's and uvicorn's loggers to one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    # uvicorn's access log stays off (it logs when this logger has a handler): ours carries the
    # request id and duration, and is CATEMBED_ACCESS_LOG
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
