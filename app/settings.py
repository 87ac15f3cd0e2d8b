"""The service's settings: one object, read from ``COMPENSA_*`` environment variables.

``compensa serve`` options, the container's environment and the tests all go through
:class:`Settings`, so a setting has one name, one default and one place it is checked. Lists are
given as JSON (``COMPENSA_API_KEYS='["k1","k2"]'``) or comma-separated (``k1,k2``); mappings as
JSON (``COMPENSA_CDS_TRUSTED_ISSUERS='{"https://ehr.example.org": "https://ehr.example.org/jwks"}'``).
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

__all__ = ["ENV_PREFIX", "Settings", "is_loopback", "load_settings"]

ENV_PREFIX = "COMPENSA_"
#: The shortest API key accepted: a key is a secret, not a password to remember (``openssl rand -hex 24``).
MIN_KEY_LENGTH = 16


def _split_list(value: object) -> object:
    """A list setting given as JSON or as comma-separated words (empty words dropped)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [word.strip() for word in text.split(",") if word.strip()]
    return value


class Settings(BaseSettings):
    """Everything the service can be told, each as ``COMPENSA_<NAME>`` (case-insensitive)."""

    # an empty variable counts as not set (COMPENSA_KB= is no KB folder, as it always was)
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    host: str = Field("127.0.0.1", description="Address to bind (loopback unless told otherwise).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes.")
    engines: int = Field(4, ge=1, le=256, description="Compiled experta engines per worker.")
    kb: Path | None = Field(None, description="A KB folder to serve instead of the bundled one.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text or as JSON objects (time, level, logger, message, request_id).")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="Least severe log level written.")
    audit: Path | None = Field(None, description="Append one JSON line per consultation to this file.")
    report_cache: int = Field(
        0, ge=0, le=100_000, description="Reports kept per worker for a case sent again, answered without "
                                         "consulting again (0: off; each hit is still audited).")
    frame_ancestors: str = Field("'self'", description="CSP frame-ancestors of the web page.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False,  # never in a log line or a traceback
        description="Keys accepted in the X-API-Key header (or Authorization: Bearer); required on a "
                    "non-loopback address.")
    insecure_no_auth: bool = Field(False, description="Serve without API keys on a non-loopback address.")
    header_timeout: float = Field(10.0, gt=0, le=3600,
                                  description="Seconds a client has to send complete request headers; else 408.")
    body_timeout: float = Field(30.0, gt=0, le=3600,
                                description="Seconds a client has to send the whole body after its headers; else 408.")
    max_connections: int = Field(1000, ge=1, le=1_000_000,
                                 description="Open connections per worker; one more gets 503 with Retry-After.")
    max_requests_in_flight: int = Field(
        128, ge=1, le=100_000, description="Requests inside the app per worker; one more gets 503 with Retry-After "
                                           "(/healthz and /readyz always answer).")
    public_url: str | None = Field(
        None, description="The address users reach the web page at (CDS Hooks cards link to it); "
                          "default: the address of the request.")
    cds_trusted_issuers: dict[str, str] = Field(
        default_factory=dict, description="CDS Hooks: EHR JWT issuer -> its JWKS URL (the allow-list).")
    cds_insecure_no_jwt: bool = Field(
        False, description="CDS Hooks: accept hook requests without a verified JWT (local testing only).")
    cds_feedback: Path | None = Field(None, description="CDS Hooks: append card feedback as JSON lines here.")

    _split_api_keys = field_validator("api_keys", mode="before")(_split_list)

    @field_validator("api_keys")
    @classmethod
    def _usable_keys(cls, keys: list[str]) -> list[str]:
        for number, key in enumerate(keys, 1):  # the message never quotes a key
            if len(key) < MIN_KEY_LENGTH or not key.isascii() or not key.isprintable() or any(
                    c.isspace() or c == "," for c in key):
                raise ValueError(f"API key {number} must be at least {MIN_KEY_LENGTH} visible ASCII characters "
                                 "without spaces or commas (e.g. from `openssl rand -hex 24`)")
        return keys

    @model_validator(mode="after")
    def _cds_testing_mode_stays_local(self) -> Settings:
        """``cds_insecure_no_jwt`` opens the CDS Hooks routes -- a whole consultation -- to anyone (they
        take no API key, the EHR's JWT stands in for one): off loopback it needs ``insecure_no_auth``
        too, the explicit word that nothing here authenticates."""
        if self.cds_insecure_no_jwt and not self.loopback and not self.insecure_no_auth:
            raise ValueError(f"COMPENSA_CDS_INSECURE_NO_JWT serves CDS Hooks without any authentication: on "
                             f"{self.host} (not a loopback address) it needs --insecure-no-auth as well "
                             "(COMPENSA_INSECURE_NO_AUTH=true), or trusted issuers (COMPENSA_CDS_TRUSTED_ISSUERS) "
                             "instead")
        return self

    @property
    def loopback(self) -> bool:
        """Whether :attr:`host` is a loopback address (only this machine can connect)."""
        return is_loopback(self.host)

    def to_environ(self) -> dict[str, str]:
        """The settings as ``COMPENSA_*`` variables that read back to the same settings (unset ones left
        out): how ``compensa serve`` hands its resolved settings to its worker processes."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, (list, dict)):
                text = json.dumps(value)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            out[ENV_PREFIX + name.upper()] = text
        return out

    def export(self, environ: MutableMapping[str, str] | None = None) -> None:
        """Put :meth:`to_environ` into ``environ`` (default ``os.environ``), removing the variables of
        settings that are unset, so the environment says exactly these settings."""
        environ = os.environ if environ is None else environ
        given = self.to_environ()
        for name in type(self).model_fields:
            key = ENV_PREFIX + name.upper()
            if key in given:
                environ[key] = given[key]
            else:
                environ.pop(key, None)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1``; anything else (``0.0.0.0``, a name, ``::``) is not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def load_settings(base: Settings | None = None, **overrides: object) -> Settings:
    """Settings from ``overrides`` (e.g. command-line options; ``None`` values skipped) over ``base``
    (when given, the environment is not read) or else over the environment, over the defaults. A bad
    value raises :class:`compensa.errors.UsageError` naming its option or variable and what is wrong,
    never the value of a key."""
    from compensa.errors import UsageError

    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**{**(base.model_dump() if base is not None else {}), **given})
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            if not error["loc"]:  # a rule across settings: its message names them
                lines.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            name = str(error["loc"][0])
            option = "--api-key" if name == "api_keys" else f"--{name.replace('_', '-')}"
            where = option if name in given else ENV_PREFIX + name.upper()
            lines.append(f"{where}: {error['msg']}")
        raise UsageError("bad setting: " + "; ".join(lines)) from None
    except SettingsError as exc:  # a variable that is not valid JSON where JSON is expected
        raise UsageError(f"bad setting: {exc}") from None
