"""Settings for every service, read from ``XIAOER_*`` environment variables (or a ``.env`` file).

Defaults describe the embedded developer setup (SQLite files under ``var/``, the Tansu broker on
127.0.0.1:9092). Nothing secret has a production default: with ``XIAOER_ENV=production`` the
service refuses to start without ``XIAOER_JWT_SECRET``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("intake", "router", "notifier")
Service = Literal["intake", "router", "notifier"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOER_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = Path("var")
    log_level: str = "INFO"
    log_json: bool = True

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(3, ge=1, description="partitions of each topic created at start")
    kafka_replication_factor: int = Field(1, ge=1)
    kafka_group_prefix: str = "xiaoer"
    consumer_max_attempts: int = Field(
        3, ge=1, description="tries of an unexpected handler error before the message goes to the DLQ"
    )
    outbox_poll_seconds: float = 0.5
    outbox_batch_size: int = 200

    # --- Databases: each service owns its own ------------------------------------------------
    intake_database_url: str = "sqlite+aiosqlite:///var/intake.db"
    router_database_url: str = "sqlite+aiosqlite:///var/router.db"
    notifier_database_url: str = "sqlite+aiosqlite:///var/notifier.db"

    # --- HTTP --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    intake_port: int = 8000
    router_port: int = 8001
    notifier_port: int = 8002
    intake_public_url: str | None = None
    router_public_url: str | None = None
    notifier_public_url: str | None = None

    # --- Attachments (intake stores them; departments get signed, time-limited links) --------
    attachments_dir: Path = Path("var/attachments")
    attachment_max_bytes: int = Field(20 * 1024 * 1024, ge=1)
    attachment_types: list[str] = ["application/pdf", "application/ofd", "image/jpeg", "image/png"]
    attachment_link_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)

    # --- WeChat mini-program login (code2session) ----------------------------------------------
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_appid: str | None = None
    wechat_secret: SecretStr | None = None

    # --- SLA clocks and notifications (notifier) -------------------------------------------------
    business_hours: list[str] = Field(
        ["09:00-12:00", "13:00-18:00"], description="working windows of a working day, Asia/Shanghai"
    )
    sla_pausing_states: list[str] = ["awaiting_supplement"]
    scheduler_enabled: bool = True  # tests drive the scheduler's clock themselves
    scheduler_tick_seconds: float = 5.0
    scheduler_batch_size: int = 500
    notification_max_attempts: int = 5
    notification_retry_seconds: float = 60.0  # doubled after each failed attempt
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "xiaoer@localhost"
    webhook_secret: SecretStr | None = None
    wechat_template_id: str = "xiaoer-progress"

    # --- Auth --------------------------------------------------------------------------------
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "xiaoer"
    jwt_ttl_seconds: int = 8 * 3600

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.env == "production":
            if self.jwt_secret is None:
                raise ValueError("XIAOER_JWT_SECRET must be set when XIAOER_ENV=production")
            if len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("XIAOER_JWT_SECRET must have at least 32 characters (HS256)")
        return self

    def database_url(self, service: Service) -> str:
        return getattr(self, f"{service}_database_url")

    def port(self, service: Service) -> int:
        return getattr(self, f"{service}_port")

    def public_url(self, service: Service) -> str:
        return getattr(self, f"{service}_public_url") or f"http://{self.host}:{self.port(service)}"

    @cached_property
    def signing_key(self) -> str:
        """The JWT signing key. In development an unset key is generated once and kept in
        ``var/dev-jwt-secret`` so that tokens minted by ``xiaoer token`` work for every service."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.var_dir / "dev-jwt-secret"
        if not path.exists():
            # Three services may start at once: write aside, then link into place atomically.
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_name(f".{path.name}.{os.getpid()}")
            scratch.write_text(secrets.token_urlsafe(32))
            with contextlib.suppress(FileExistsError):
                os.link(scratch, path)
            scratch.unlink()
        return path.read_text().strip()
