"""Service settings from the environment (prefix ``CATEMBED_``), validated before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CATEMBED_", extra="ignore", protected_namespaces=())

    model_dir: Path = Field(Path("model_artifacts/flights"), description="one model's folder: model_artifacts/<name>")
    model_version: int | None = Field(None, ge=1, description="pin a version; default: the newest")
    max_records: int = Field(10_000, ge=1, le=1_000_000, description="records per request")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="request body size limit")
    max_string_length: int = Field(1_000, ge=1, description="longest category string accepted")
    api_key: SecretStr | None = Field(None, description="when set, predict/encode/embed/admin need 'Authorization: Bearer <key>'")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    cors_origins: list[str] = Field(default_factory=list)
    workers: int = Field(1, ge=1, le=64)
    reload_interval: float = Field(0.0, ge=0, description="seconds between checks for a new version; 0 = off")
    floor_endpoint: bool = Field(False, description="expose POST /_floor, the trivial endpoint the benchmark compares against")
