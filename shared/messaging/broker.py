"""Where the broker is and who this process is to it: every Kafka client is made from a
``BrokerAccess``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

if TYPE_CHECKING:
    from shared.settings import Settings


@dataclass(frozen=True)
class BrokerAccess:
    """Where the broker is and who this process is to it; every client below is made with it.

    On the embedded development broker nobody logs in (PLAINTEXT). On the production broker each
    service logs in as its own SASL/SCRAM user over TLS (``XIAOER_KAFKA_USERNAME`` set per
    container), and the broker's ACLs give that user only the topics and groups the service uses
    (cli/kafka_acls.py, written by ``xiaoer schemas``). A plain ``"host:port"`` string means PLAINTEXT."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None  # the CA that signed the broker's certificate; None: the system's

    @classmethod
    def of(cls, broker: BrokerAccess | str) -> BrokerAccess:
        return broker if isinstance(broker, BrokerAccess) else cls(broker)

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerAccess:
        """Raises when a SASL protocol is set without a login. Checked here, when a process is
        about to use the broker, not in the settings: the pages (services/web) and ``migrate``
        share the settings of a deployment but never connect to Kafka."""
        password = settings.kafka_password.get_secret_value() if settings.kafka_password else None
        if settings.kafka_security_protocol.startswith("SASL_") and not (settings.kafka_username and password):
            raise ValueError(
                f"XIAOER_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs XIAOER_KAFKA_USERNAME "
                "and XIAOER_KAFKA_PASSWORD (each service its own)"
            )
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=password,
            ssl_cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        )

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client (producer, consumer, admin) takes."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL_"):
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        return options


def new_producer(broker: BrokerAccess | str) -> AIOKafkaProducer:
    # acks=all: a send counts only once every in-sync replica has it. The idempotent producer
    # would be better still but Tansu cannot grant producer ids; consumers dedupe by ce_id anyway.
    # zstd, not gzip: aiokafka compresses gzip at level 9, which showed in the router's profile;
    # zstd produced as fast as no compression (docs/benchmarks.md).
    return AIOKafkaProducer(
        **BrokerAccess.of(broker).client_options(),
        acks="all",
        compression_type="zstd",
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


async def ping(broker: BrokerAccess | str) -> None:
    """Raises unless the broker answers a metadata request (after logging in, where it asks to)."""
    admin = AIOKafkaAdminClient(**BrokerAccess.of(broker).client_options(), request_timeout_ms=3000)
    try:
        async with asyncio.timeout(6):  # not wait_for: see OutboxRelay.run
            await admin.start()
            await admin.list_topics()
    finally:
        await admin.close()
