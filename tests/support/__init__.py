"""What the tests share. ``tests.support.system`` runs nothing itself: the session's fixtures in
tests/conftest.py start the broker and the services; the modules here are what tests call.

| module | what |
|---|---|
| ``system`` | ``System`` (the running services' HTTP clients and runtimes), test settings |
| ``actors`` | the people: ``system.enterprise()``, ``.clerk(unit)``, ``.supervisor(region)``, ``.admin()`` |
| ``data`` | known enterprises (valid USCCs), request bodies, file bytes |
| ``waiting`` | ``eventually``: waiting for an asynchronous outcome, never a sleep |
| ``kafka`` | plain Kafka reads and signed department actions |
| ``databases`` | SQLite or PostgreSQL databases per test |
| ``fakes`` | WeChat, webhooks and SMTP faked by real local servers |
| ``processes`` | a killable ``xiaoer serve`` process |
| ``web`` | the pages' fixtures: real HTTP, Debian's Chromium (a pytest plugin) |
"""

from __future__ import annotations

from tests.support.data import (
    CERTIFICATE,
    MINGLUO,
    MINGLUO_SH,
    MINGLUO_YY,
    OTHER_CO,
    PDF_BYTES,
    PNG_BYTES,
    certificate_request,
    first_year_without_official_schedule,
    long_overdue_dispatch,
    numbered_event,
    work_item_event,
)
from tests.support.databases import (
    RACES_ON_POSTGRES_ONLY,
    Databases,
    Outage,
    backend_pid,
    database_backend,
    make_databases,
    postgres_databases,
    waits_for,
)
from tests.support.fakes import (
    FakeWebhook,
    FakeWechat,
    SmtpSink,
)
from tests.support.kafka import (
    department_key,
    header,
    publish_item_event,
    read_topic,
    read_topics,
    send_department_action,
    unit_topic_deliveries,
)
from tests.support.processes import (
    ServiceProcess,
)
from tests.support.system import (
    BUILDERS,
    System,
    make_settings,
    settings_fields,
)
from tests.support.waiting import (
    eventually,
)

__all__ = [
    "BUILDERS",
    "CERTIFICATE",
    "MINGLUO",
    "MINGLUO_SH",
    "MINGLUO_YY",
    "OTHER_CO",
    "PDF_BYTES",
    "PNG_BYTES",
    "RACES_ON_POSTGRES_ONLY",
    "Databases",
    "FakeWebhook",
    "FakeWechat",
    "Outage",
    "ServiceProcess",
    "SmtpSink",
    "System",
    "backend_pid",
    "certificate_request",
    "database_backend",
    "department_key",
    "eventually",
    "first_year_without_official_schedule",
    "header",
    "long_overdue_dispatch",
    "make_databases",
    "make_settings",
    "numbered_event",
    "postgres_databases",
    "publish_item_event",
    "read_topic",
    "read_topics",
    "send_department_action",
    "settings_fields",
    "unit_topic_deliveries",
    "waits_for",
    "work_item_event",
]
