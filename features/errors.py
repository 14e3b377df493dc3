"""One error family for the whole project.

Every error carries the HTTP status the service answers with and the field/value it is about,
so the CLI, the encoders and the HTTP layer report the same facts in the same words.
"""

from __future__ import annotations

from typing import Any


class CatembedError(Exception):
    """Base class: a message for people plus machine-readable facts."""

    status_code = 400
    error_type = "bad_request"

    def __init_subclass__(cls, *, status: int | None = None, kind: str | None = None, **kwargs: Any) -> None:
        """``class NotFound(CatembedError, status=404, kind="not_found")``: a subclass states its
        HTTP status and the ``type`` of its error body where it is declared."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status
        if kind is not None:
            cls.error_type = kind

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.expected = expected

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.value is not None:
            body["value"] = _json_safe(self.value)
        if self.expected is not None:
            body["expected"] = self.expected
        return body


class InvalidInput(CatembedError, status=422, kind="invalid_input"):
    """A record or parameter that does not fit the model's schema."""


class NotFound(CatembedError, status=404, kind="not_found"):
    """A feature, value or version the model does not have."""


class PayloadTooLarge(CatembedError, status=413, kind="payload_too_large"):
    """More records, bytes or characters than the limits allow."""


class DataError(CatembedError, kind="data_error"):
    """Training data that cannot be used as given (the CLI exits with code 2)."""


class BundleError(CatembedError, status=503, kind="bundle_error"):
    """An artifact bundle that is missing, corrupt or of an unknown format."""


def _json_safe(value: Any, limit: int = 200) -> Any:
    """Echo a value back without letting a 1 MB string or a nested object flood the error."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):  # JSON encoders stop at 64 bits: a longer integer is echoed as text
        return value if -(2**63) <= value < 2**64 else _json_safe(str(value), limit)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
