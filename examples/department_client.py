"""部门业务系统示例客户端 / An example department system on xiaoer's Kafka topics.

It reads the unit's inbox (``dept.<unit>.inbox``), signs for (签收) each new work item, asks the
enterprise for a supplement (补正), and when the supplement has arrived uploads the document
over HTTP and resolves the item with it (办结), each action a signed
``cn.xiaoer.department.action`` on ``dept.responses``.

Needs only aiokafka and httpx (``pip install "aiokafka[zstd]" httpx``; xiaoer compresses its
messages with zstd, which any Kafka client since Apache Kafka 2.1 reads), not xiaoer's code:
this is what an integrator copies. Run it with what ``xiaoer units credentials UNIT`` printed::

    python examples/department_client.py --bootstrap 127.0.0.1:9092 --unit 440112.tax \\
        --key-id k0123456789abcdef --secret "$XIAOER_DEPT_SECRET" \\
        --router http://127.0.0.1:8001 --token "$(xiaoer token --role department --unit 440112.tax)" \\
        --document 守法证明.pdf --document-no "穗黄税证〔2026〕1号"

On a broker with SASL/SCRAM add ``--username dept-440112.tax --password "$KAFKA_PASSWORD"``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

RESPONSES = "dept.responses"
ACTION_TYPE = "cn.xiaoer.department.action"
SIGNED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_time")


@dataclass(frozen=True)
class Identity:
    """The unit and its key, as the onboarding sheet gives them."""

    unit: str
    key_id: str
    secret: str

    @property
    def source(self) -> str:
        return f"/departments/{self.unit}"

    @property
    def inbox(self) -> str:
        return f"dept.{self.unit}.inbox"


def kafka_options(username: str | None, password: str | None) -> dict:
    """SASL/SCRAM on the production broker; nothing on the embedded development broker."""
    if not username:
        return {}
    return {
        "security_protocol": "SASL_SSL",
        "ssl_context": create_ssl_context(),  # the system's trusted CAs
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }


# --- signing: HMAC-SHA256 over ce_id, ce_source, ce_type, ce_time and the body --------------------
def signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    canonical = b"".join(headers[name].encode() + b"\n" for name in SIGNED_HEADERS) + body
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


def action_message(identity: Identity, work_item_id: str, action: str, **fields) -> tuple[bytes, list]:
    """One signed action as a CloudEvent in Kafka binary mode: (value, headers)."""
    body = json.dumps(
        {"work_item_id": work_item_id, "unit_code": identity.unit, "action": action, **fields}, ensure_ascii=False
    ).encode()
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_source": identity.source,
        "ce_type": ACTION_TYPE,
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
    }
    headers["ce_xiaoerkeyid"] = identity.key_id
    headers["ce_xiaoersignature"] = signature(identity.secret, headers, body)
    return body, [(name, value.encode()) for name, value in headers.items()]


class Responder:
    """Sends the unit's actions to dept.responses (key: the work item id)."""

    def __init__(self, identity: Identity, producer: AIOKafkaProducer) -> None:
        self.identity = identity
        self.producer = producer

    async def send(self, work_item_id: str, action: str, **fields) -> str:
        value, headers = action_message(self.identity, work_item_id, action, **fields)
        await self.producer.send_and_wait(RESPONSES, value, key=work_item_id.encode(), headers=headers)
        return dict(headers)["ce_id"].decode()


# --- the inbox ----------------------------------------------------------------------------------------
def parse(record) -> dict:
    """An inbox message: its body, plus ``_type`` (ce_type) and ``_id`` (ce_id)."""
    headers = {name: value.decode() for name, value in record.headers or ()}
    return json.loads(record.value) | {"_type": headers.get("ce_type"), "_id": headers.get("ce_id")}


async def next_message(consumer: AIOKafkaConsumer, wanted: Callable[[dict], bool]) -> dict:
    """The next inbox message ``wanted`` accepts; others are passed over (and committed)."""
    while True:
        record = await consumer.getone()
        message = parse(record)
        await consumer.commit()
        if wanted(message):
            return message


def assigned(message: dict) -> bool:
    return message["_type"] == "cn.xiaoer.workitem.assigned" and message.get("role") == "lead"


def supplement_arrived(work_item_id: str) -> Callable[[dict], bool]:
    return lambda m: m.get("work_item_id") == work_item_id and m.get("notice") == "supplement_received"


# --- documents over HTTP --------------------------------------------------------------------------------
async def upload(http: httpx.AsyncClient, token: str, work_item_id: str, name: str, content: bytes) -> str:
    """Uploads a document for the item; returns its file id, to name in ``attachments``."""
    kind = "application/pdf" if name.lower().endswith(".pdf") else "application/octet-stream"
    response = await http.post(
        f"/v1/workitems/{work_item_id}/files",
        files={"file": (name, content, kind)},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return response.json()["id"]


# --- one work item, start to finish -------------------------------------------------------------------
@dataclass
class Document:
    name: str
    content: bytes
    number: str


async def handle(
    consumer: AIOKafkaConsumer,
    responder: Responder,
    http: httpx.AsyncClient,
    token: str,
    item: dict,
    document: Document,
    supplement_note: str = "请补充近三年主要经营场所租赁合同",
) -> None:
    """签收, 补正, then — once the enterprise's supplement arrives — upload and 办结."""
    item_id = item["work_item_id"]
    await responder.send(item_id, "acknowledge", note="已签收")
    await responder.send(item_id, "request-supplement", note=supplement_note)
    await next_message(consumer, supplement_arrived(item_id))
    file_id = await upload(http, token, item_id, document.name, document.content)
    await responder.send(
        item_id, "resolve", outcome="issued", document_no=document.number, attachments=[file_id], note="已出具"
    )


def inbox_consumer(identity: Identity, bootstrap: str, **options) -> AIOKafkaConsumer:
    # The unit's consumer groups start with its principal (dept-<unit>.), which its ACLs allow.
    return AIOKafkaConsumer(
        identity.inbox,
        bootstrap_servers=bootstrap,
        group_id=f"dept-{identity.unit}.example",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )


async def run(args: argparse.Namespace, document: Document) -> None:
    identity = Identity(args.unit, args.key_id, args.secret or os.environ["XIAOER_DEPT_SECRET"])
    options = kafka_options(args.username, args.password)
    consumer = inbox_consumer(identity, args.bootstrap, **options)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", **options)
    await consumer.start()
    await producer.start()
    try:
        async with httpx.AsyncClient(base_url=args.router) as http:
            for _ in range(args.items):
                try:
                    async with asyncio.timeout(args.timeout):
                        item = await next_message(consumer, assigned)
                except TimeoutError:
                    print(f"{args.timeout:g} 秒内没有新工单 / no new work item within {args.timeout:g} s")
                    return
                print(f"签收 {item['work_item_id']} ({item['reference_no']}, {item['subject']['name']})")
                await handle(consumer, Responder(identity, producer), http, args.token, item, document)
                print(f"办结 {item['work_item_id']}: {document.number}")
    finally:
        await producer.stop()
        await consumer.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--unit", required=True, help="e.g. 440112.tax")
    p.add_argument("--key-id", required=True)
    p.add_argument("--secret", help="the signing secret; or XIAOER_DEPT_SECRET")
    p.add_argument("--router", required=True, help="the router's URL, for uploads")
    p.add_argument("--token", required=True, help="a department JWT for the unit, for uploads")
    p.add_argument("--document", required=True, help="the document to issue (PDF)")
    p.add_argument("--document-no", required=True)
    p.add_argument("--items", type=int, default=1, help="how many items to handle before stopping")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a new item")
    p.add_argument("--username", help="SASL/SCRAM user (dept-<unit>) on the production broker")
    p.add_argument("--password", help="its Kafka password")
    args = p.parse_args(argv)
    document = Document(Path(args.document).name, Path(args.document).read_bytes(), args.document_no)
    asyncio.run(run(args, document))


if __name__ == "__main__":
    main()
