"""Service settings from the environment (prefix ``CATEMBED_``), validated before anything starts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PREFIX = "CATEMBED_"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")  # the default: a local service; deployments name theirs


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", protected_namespaces=())

    model_dir: Path = Field(Path("model_artifacts/flights"), description="one model's folder: model_artifacts/<name>")
    model_version: int | None = Field(None, ge=1, description="pin a version; default: the newest")
    model_repository: Path | None = Field(
        None, description="serve every model folder under this one (<name>/<version>/); replaces model_dir"
    )
    default_model: str | None = Field(None, description="the repository model today's routes serve; default: the only one")
    max_records: int = Field(10_000, ge=1, le=1_000_000, description="records per request")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="request body size limit")
    max_string_length: int = Field(1_000, ge=1, description="longest category string accepted")
    api_key: SecretStr | None = Field(None, description="when set, predict/encode/embed/admin need 'Authorization: Bearer <key>'")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = Field(False, description="one log line per request (method, path, status, duration_ms)")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="comma-separated origins, or *")
    workers: int = Field(1, ge=1, le=64)
    reload_interval: float = Field(0.0, ge=0, description="seconds between checks for a new version; 0 = off")
    graceful_timeout: int = Field(30, ge=1, description="seconds in-flight requests get to finish after SIGTERM")
    grpc_port: int | None = Field(
        None, ge=1, le=65535, description="serve the Open Inference Protocol over gRPC here too; default: off"
    )
    grpc_host: str = Field("127.0.0.1", description="the gRPC address; catembed serve sets it to its --host")
    floor_endpoint: bool = Field(False, description="expose POST /_floor, the trivial endpoint the benchmark compares against")
    # exposure limits (docs/reliability.md, threat model): what one client can hold or make the server do
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(LOCAL_HOSTS),
        description="comma-separated Host names served (DNS rebinding); '*.example.com' matches subdomains, '*' any",
    )
    allow_admin_without_key: bool = Field(False, description="allow reload/load/unload with no CATEMBED_API_KEY set")
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024, description="request line + headers; over it: 431")
    header_timeout: float = Field(10.0, gt=0, le=600, description="seconds a connection gets to send a whole request head")
    body_timeout: float = Field(30.0, gt=0, le=3600, description="seconds a request gets to send its whole body")
    keep_alive_timeout: int = Field(5, ge=1, le=600, description="seconds an idle keep-alive connection stays open")
    max_connections: int = Field(512, ge=1, le=100_000, description="open connections per worker; past it: 503")

    @field_validator("api_key")
    @classmethod
    def _no_blank_key(cls, key: SecretStr | None) -> SecretStr | None:
        # an empty CATEMBED_API_KEY= would otherwise mean "protected by the empty string"
        return key if key is not None and key.get_secret_value().strip() else None

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return [o.strip() for o in value.split(",") if o.strip()] if isinstance(value, str) else value


def load_settings() -> Settings:
    """Settings from the environment, or one clear line on stderr and exit code 2."""
    try:
        return Settings()
    except ValidationError as exc:
        print(f"catembed cannot start: {describe(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


def describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = PREFIX + "_".join(str(p) for p in error["loc"][:1]).upper()
        problems.append(f"{name}={error.get('input')!r} is invalid: {error['msg']}")
    return "; ".join(problems)
