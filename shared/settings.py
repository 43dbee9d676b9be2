"""Settings every service shares, read from ``XIAOER_*`` environment variables (or a ``.env``
file). Each service extends them with its own in ``services/<name>/settings.py``.

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

SERVICES = ("intake", "router", "notifier")  # the three that exchange events on Kafka
Service = Literal["intake", "router", "notifier"]
# The pages (services/web): HTTP only, no Kafka; it calls the three services' APIs.
WEB = "web"
HttpService = Literal["intake", "router", "notifier", "web"]


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
    # Who this process is to the broker. Development: nobody (the embedded broker is open).
    # Production (docker-compose): SASL_SSL, each service its own SCRAM user with ACLs for only
    # its own topics and groups (cli/kafka_acls.py).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    # Connections each process keeps open to PostgreSQL, and how many more it may open for a
    # burst. Connections beyond the pool are closed when returned, so a pool smaller than the
    # usual concurrency opens and closes a connection per request (docs/benchmarks.md).
    database_pool_size: int = Field(20, ge=1, description="PostgreSQL connections kept per process")
    database_pool_overflow: int = Field(10, ge=0, description="extra connections per process in a burst")
    outbox_poll_seconds: float = 0.5
    outbox_batch_size: int = 200
    # How often the active relay checks that the broker still has what it acknowledged (and when
    # it takes the lease); what is gone is published again (shared/messaging/landing.py).
    outbox_loss_check_seconds: float = Field(10.0, gt=0, description="seconds between broker-loss checks")
    # A relay asks the database whether it still holds its lease before each chunk this large.
    # A whole batch by default: each check is two round trips and each chunk's landing record four
    # more, which at 50 rows a chunk made the router's relay the end-to-end bottleneck (benchmarks.md).
    outbox_fence_every: int = Field(200, ge=1, description="rows sent between two checks of the relay's lease")
    # A consumer that stops heartbeating (its process killed) loses its partitions after this
    # long, and the group's other members take them over (with the embedded broker's rebalance,
    # within about 4 s of a crash). A process whose event loop is blocked longer than this loses
    # them too: raise both if xiaoer_consumer_rejoins_total climbs without crashes.
    kafka_session_timeout_ms: int = Field(2000, ge=1000, description="consumer group session timeout")
    kafka_heartbeat_interval_ms: int = Field(400, ge=100, description="consumer heartbeat interval")
    # Traces across HTTP and Kafka (shared/tracing.py), sent to an OTLP collector over HTTP.
    tracing_enabled: bool = False
    tracing_otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    # /readyz warns (without failing) when a consumer is this many events behind its partitions' ends.
    consumer_lag_warning: int = Field(1000, ge=1, description="events behind before /readyz warns")

    # --- HTTP: where each service listens and is reached (the services call each other's APIs,
    # and links handed out must point at the right one) ----------------------------------------
    host: str = "127.0.0.1"
    intake_port: int = 8000
    router_port: int = 8001
    notifier_port: int = 8002
    web_port: int = 8003
    intake_public_url: str | None = None
    router_public_url: str | None = None
    notifier_public_url: str | None = None
    web_public_url: str | None = None
    http_max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest JSON body; uploads: file_max_bytes")
    http_max_header_bytes: int = Field(16 * 1024, ge=4096, description="largest request head (path, query, headers)")
    # Slow clients (nginx's client_header_timeout and client_body_timeout): a request head must
    # arrive whole within the first, and a body may pause no longer than the second; else 408.
    http_header_timeout_seconds: float = Field(10.0, gt=0, description="time for a whole request head")
    http_body_timeout_seconds: float = Field(30.0, gt=0, description="longest pause between body reads")
    # HTTP worker processes of one service (``xiaoer serve``/``api``); 0: one per CPU core. With several,
    # ``serve`` runs the relay and consumers in one process of their own beside them (cli/serve.py).
    http_workers: int = Field(1, ge=0, description="HTTP worker processes per service, unless set per service")
    intake_http_workers: int | None = Field(None, ge=0)
    router_http_workers: int | None = Field(None, ge=0)
    notifier_http_workers: int | None = Field(None, ge=0)

    # --- WeChat: intake logs enterprise users in, the notifier sends them messages --------------
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_appid: str | None = None
    wechat_secret: SecretStr | None = None

    # --- Files (attachments, issued certificates): shared by intake and the router ---------------
    files_backend: Literal["local", "s3"] = "local"
    files_dir: Path = Path("var/files")
    file_max_bytes: int = Field(20 * 1024 * 1024, ge=1)
    file_types: list[str] = ["application/pdf", "application/ofd", "image/jpeg", "image/png"]
    s3_endpoint_url: str | None = None
    s3_bucket: str = "xiaoer-files"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

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

    @property
    def database_url(self) -> str:
        """The database of the service these settings are for (each service's own class says)."""
        raise NotImplementedError("only a service's own settings name its database")

    def port(self, service: HttpService) -> int:
        return getattr(self, f"{service}_port")

    def http_worker_count(self, service: str) -> int:
        """How many HTTP worker processes ``service`` runs."""
        configured = getattr(self, f"{service}_http_workers", None)
        workers = self.http_workers if configured is None else configured
        return workers or os.cpu_count() or 1

    def public_url(self, service: HttpService) -> str:
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
