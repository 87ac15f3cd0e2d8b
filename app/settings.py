"""The service's settings: one object, read from ``COMPENSA_*`` environment variables.

``compensa serve`` options, the container's environment and the tests all go through
:class:`Settings`, so a setting has one name, one default and one place it is checked. Lists are
given as JSON (``COMPENSA_API_KEYS='["k1","k2"]'``) or comma-separated (``k1,k2``); mappings as
JSON (``COMPENSA_CDS_TRUSTED_ISSUERS='{"https://ehr.example.org": "https://ehr.example.org/jwks"}'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


def _split_list(value: object) -> object:
    """A list setting given as JSON or as comma-separated words (empty words dropped)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [word.strip() for word in text.split(",") if word.strip()]
    return value


class Settings(BaseSettings):
    """Everything the service can be told, each as ``COMPENSA_<NAME>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="COMPENSA_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address to bind (loopback unless told otherwise).")
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64, description="Worker processes.")
    engines: int = Field(4, ge=1, le=256, description="Compiled experta engines per worker.")
    kb: Path | None = Field(None, description="A KB folder to serve instead of the bundled one.")
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    audit: Path | None = Field(None, description="Append one JSON line per consultation to this file.")
    frame_ancestors: str = Field("'self'", description="CSP frame-ancestors of the web page.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Keys accepted in the X-API-Key header (or Authorization: Bearer).")
    insecure_no_auth: bool = Field(False, description="Serve without API keys on a non-loopback address.")
    header_timeout: float = Field(10.0, gt=0, le=3600)
    body_timeout: float = Field(30.0, gt=0, le=3600)
    max_connections: int = Field(1000, ge=1, le=1_000_000)
    max_requests_in_flight: int = Field(128, ge=1, le=100_000)
    public_url: str | None = Field(
        None, description="The address users reach the web page at (CDS Hooks cards link to it); "
                          "default: the address of the request.")
    cds_trusted_issuers: dict[str, str] = Field(
        default_factory=dict, description="CDS Hooks: EHR JWT issuer -> its JWKS URL (the allow-list).")
    cds_insecure_no_jwt: bool = Field(
        False, description="CDS Hooks: accept hook requests without a verified JWT (local testing only).")
    cds_feedback: Path | None = Field(None, description="CDS Hooks: append card feedback as JSON lines here.")

    _split_api_keys = field_validator("api_keys", mode="before")(_split_list)
