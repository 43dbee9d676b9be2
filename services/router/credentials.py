"""Department systems' identity on Kafka: per-unit keys, signed actions, onboarding.

A department system signs each ``cn.xiaoer.department.action`` it sends with its key: two
CloudEvents extension headers, ``ce_xiaoerkeyid`` (the key id) and ``ce_xiaoersignature``
(hex HMAC-SHA256, under the key's secret, of the canonical string below). The router checks the
key (known, not revoked, its unit active) and that the key's unit is the one the message claims
(payload ``unit_code`` and ``ce_source``) before the life cycle sees the action; anything else is
a ``PoisonMessage`` and lands in ``dept.responses.dlq`` with the reason.

Secrets are never stored: a key's secret is HMAC-SHA256(deployment key, key id), so the router
recomputes it, and a copy of the database gives no one a unit's key. Changing the deployment
key (``XIAOER_DEPARTMENT_KEY_SECRET``) therefore invalidates every department key at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.clock import utcnow
from shared.messaging.encoding import PoisonMessage, ReceivedEvent

from .models import DepartmentUnit, UnitCredential
from .settings import RouterSettings

KEY_ID_HEADER = "ce_xiaoerkeyid"
SIGNATURE_HEADER = "ce_xiaoersignature"
# What the signature covers, in this order, one per line, then the body bytes as sent.
SIGNED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_time")


def department_source(unit_code: str) -> str:
    return f"/departments/{unit_code}"


def principal(unit_code: str) -> str:
    """The unit's Kafka user (SASL/SCRAM) on a locked-down broker."""
    return f"dept-{unit_code}"


# --- the signature ----------------------------------------------------------------------------------
def derive_secret(settings: RouterSettings, key_id: str, purpose: str = "sign") -> str:
    """A key's secret: ``sign`` for the HMAC on messages, ``kafka`` for its SCRAM password."""
    message = key_id.encode() if purpose == "sign" else f"{purpose}:{key_id}".encode()
    return hmac.new(settings.department_key, message, hashlib.sha256).hexdigest()


def signing_input(headers: Mapping[str, str | bytes], body: bytes) -> bytes:
    """``ce_id``, ``ce_source``, ``ce_type``, ``ce_time`` (header values as sent), each followed
    by a newline, then the message value."""
    lines = []
    for name in SIGNED_HEADERS:
        value = headers.get(name, b"")
        lines.append(value if isinstance(value, bytes) else value.encode())
    return b"\n".join(lines) + b"\n" + body


def signature(secret: str, headers: Mapping[str, str | bytes], body: bytes) -> str:
    return hmac.new(secret.encode(), signing_input(headers, body), hashlib.sha256).hexdigest()


def sign(headers: dict[str, str], body: bytes, key_id: str, secret: str) -> dict[str, str]:
    """``headers`` with the two signature headers added (what a department system does)."""
    return {**headers, KEY_ID_HEADER: key_id, SIGNATURE_HEADER: signature(secret, headers, body)}


# --- verification ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    key_id: str | None  # None: an unsigned action let through by the migration window
    unit_code: str

    def actor(self) -> events.Actor:
        # No person behind a department system's message: the system acts, for its unit, with its key.
        actor_id = f"key:{self.key_id}" if self.key_id else self.unit_code
        return events.Actor(role="department", id=actor_id, name="部门业务系统", unit=self.unit_code)


async def verify(session: AsyncSession, settings: RouterSettings, received: ReceivedEvent) -> Identity:
    """The identity a department action was sent with; ``PoisonMessage`` with the reason if it
    has none the router accepts."""
    action: events.DepartmentAction = received.data
    headers = {name: value for name, value in (received.record.headers or ()) if value is not None}
    key_id = headers.get(KEY_ID_HEADER, b"").decode()
    if not key_id:
        if settings.department_unsigned_actions:
            _same_unit(received.source, action.unit_code, action.unit_code, "")
            return Identity(None, action.unit_code)
        raise PoisonMessage(
            f"unsigned department action: {KEY_ID_HEADER} and {SIGNATURE_HEADER} headers are required "
            "(xiaoer units credentials UNIT issues a key)"
        )
    key = await session.get(UnitCredential, key_id)
    if key is None:
        raise PoisonMessage(f"unknown key {key_id!r}")
    expected = signature(derive_secret(settings, key_id), headers, received.record.value or b"")
    if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, b"").decode()):
        raise PoisonMessage(f"bad signature for key {key_id!r}")
    if key.revoked_at is not None:
        raise PoisonMessage(f"key {key_id!r} was revoked at {key.revoked_at.isoformat()}")
    unit = await session.get(DepartmentUnit, key.unit_code)
    if unit is None or not unit.active:
        raise PoisonMessage(f"unit {key.unit_code!r} is inactive: its keys are refused")
    _same_unit(received.source, key.unit_code, action.unit_code, f"key {key_id!r} of ")
    return Identity(key_id, key.unit_code)


def _same_unit(source: str, key_unit: str, claimed_unit: str, whose: str) -> None:
    if claimed_unit != key_unit:
        raise PoisonMessage(f"{whose}unit {key_unit!r} may not act for unit {claimed_unit!r}")
    if source != department_source(key_unit):
        raise PoisonMessage(
            f"ce_source {source!r} may not act for unit {key_unit!r} (expected {department_source(key_unit)!r})"
        )


# --- issuing and revoking ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Issued:
    key_id: str
    secret: str
    kafka_password: str


class CredentialError(Exception):
    """An operator's request that cannot be done (unknown or inactive unit, unknown key)."""


async def active_keys(session: AsyncSession, unit_code: str) -> list[UnitCredential]:
    return list(
        await session.scalars(
            select(UnitCredential)
            .where(UnitCredential.unit_code == unit_code, UnitCredential.revoked_at.is_(None))
            .order_by(UnitCredential.created_at)
        )
    )


async def issue(session: AsyncSession, settings: RouterSettings, unit_code: str) -> Issued:
    """A new key for an active unit. Earlier keys stay valid until revoked, so a system can switch
    to the new one without a gap (rotation)."""
    unit = await session.get(DepartmentUnit, unit_code)
    if unit is None:
        raise CredentialError(f"no unit {unit_code!r}")
    if not unit.active:
        raise CredentialError(f"unit {unit_code!r} is inactive; activate it first (PUT /v1/units)")
    key_id = f"k{secrets.token_hex(8)}"
    session.add(UnitCredential(key_id=key_id, unit_code=unit_code, created_at=utcnow()))
    await session.flush()
    return Issued(key_id, derive_secret(settings, key_id), derive_secret(settings, key_id, "kafka"))


async def revoke(session: AsyncSession, unit_code: str, key_id: str) -> UnitCredential:
    key = await session.get(UnitCredential, key_id)
    if key is None or key.unit_code != unit_code:
        raise CredentialError(f"unit {unit_code!r} has no key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


async def revoke_all(session: AsyncSession, unit_code: str) -> list[str]:
    """Revokes every key of the unit (an inactive unit's keys are refused anyway; this makes it
    last beyond a reactivation)."""
    keys = await active_keys(session, unit_code)
    for key in keys:
        key.revoked_at = utcnow()
    return [k.key_id for k in keys]


async def credentials_command(
    session: AsyncSession, settings: RouterSettings, unit_code: str, *, rotate: bool, revoke_key: str | None
) -> str:
    """What ``xiaoer units credentials`` does, as text to print."""
    unit = await session.get(DepartmentUnit, unit_code)
    if unit is None:
        raise CredentialError(f"no unit {unit_code!r}")
    if revoke_key:
        await revoke(session, unit_code, revoke_key)
        left = await active_keys(session, unit_code)
        return revocation_sheet(unit_code, revoke_key, [k.key_id for k in left])
    if not unit.active:
        revoked = await revoke_all(session, unit_code)
        return f"单位 {unit_code} 已停用，其全部密钥已吊销 / unit inactive, keys revoked: {', '.join(revoked) or '-'}"
    keys = await active_keys(session, unit_code)
    issued = await issue(session, settings, unit_code) if rotate or not keys else None
    return onboarding_sheet(settings, unit, issued, [k.key_id for k in keys])


def revocation_sheet(unit_code: str, key_id: str, left: list[str]) -> str:
    lines = [f"已吊销密钥 / revoked key {key_id} (unit {unit_code}); 其消息将进入 dept.responses.dlq"]
    if left:
        lines.append(f"仍有效的密钥 / keys still valid: {', '.join(left)}")
    else:
        lines.append("该单位已无有效密钥；在生产 Kafka 上同时撤销其账号和 ACL / no key left; on the production broker:")
        lines += [f"  {c}" for c in kafka_revoke_commands(unit_code)]
    return "\n".join(lines)


# --- the onboarding sheet ----------------------------------------------------------------------------
RECEIVES = (events.WorkItemAssigned, events.WorkItemNotice)
SENDS = (events.DepartmentAction,)
ADMIN = "kafka-acls.sh --bootstrap-server $KAFKA_ADMIN_BOOTSTRAP --command-config admin.properties"
CONFIGS = "kafka-configs.sh --bootstrap-server $KAFKA_ADMIN_BOOTSTRAP --command-config admin.properties"


def kafka_grant_commands(unit_code: str, issued: Issued | None) -> list[str]:
    """The unit's SCRAM user and ACLs on the production broker (deploy/kafka/README.md): read its
    inbox with its own consumer groups (``<principal>.`` prefix), write dept.responses, nothing else."""
    user = principal(unit_code)
    password = issued.kafka_password if issued else "<Kafka 密码 / password>"
    return [
        f"{CONFIGS} --alter --entity-type users --entity-name {user} "
        f"--add-config 'SCRAM-SHA-512=[password={password}]'",
        f"{ADMIN} --add --allow-principal User:{user} --operation Read --operation Describe "
        f"--topic {events.dept_inbox(unit_code)}",
        f"{ADMIN} --add --allow-principal User:{user} --operation Read "
        f"--group {user}. --resource-pattern-type prefixed",
        f"{ADMIN} --add --allow-principal User:{user} --operation Write --operation Describe "
        f"--topic {events.DEPT_RESPONSES}",
    ]


def kafka_revoke_commands(unit_code: str) -> list[str]:
    user = principal(unit_code)
    return [
        f"{CONFIGS} --alter --entity-type users --entity-name {user} --delete-config 'SCRAM-SHA-512'",
        f"{ADMIN} --remove --force --principal User:{user} --topic {events.dept_inbox(unit_code)}",
        f"{ADMIN} --remove --force --principal User:{user} --group {user}. --resource-pattern-type prefixed",
        f"{ADMIN} --remove --force --principal User:{user} --topic {events.DEPT_RESPONSES}",
    ]


def _schema_lines(models) -> list[str]:
    return [f"  {m.ce_type}  → docs/schemas/{m.ce_type}.json" for m in models]


def onboarding_sheet(settings: RouterSettings, unit: DepartmentUnit, issued: Issued | None, earlier: list[str]) -> str:
    """What a department's integrator needs, Chinese first; the secret only when just issued."""
    code = unit.unit_code
    lines = [
        f"部门业务系统接入单 / Onboarding sheet — {unit.name} ({code})",
        "",
        f"Kafka 地址 / bootstrap servers: {settings.department_bootstrap}",
        f"Kafka 账号 / principal: User:{principal(code)} (SASL/SCRAM-SHA-512; 嵌入式开发 broker 无需认证)",
        f"消费组前缀 / consumer groups: {principal(code)}.*",
        f"收件主题 / inbox (read): {events.dept_inbox(code)}",
        f"回复主题 / responses (write): {events.DEPT_RESPONSES}  (ce_source = {department_source(code)})",
        "消息压缩 / compression: zstd（客户端需支持 zstd，如 aiokafka[zstd]、librdkafka / clients must read zstd）",
        "",
    ]
    if issued:
        lines += [
            f"签名密钥编号 / key id: {issued.key_id}",
            f"签名密钥 / signing secret: {issued.secret}",
            f"Kafka 密码 / Kafka password: {issued.kafka_password}",
            "（仅此一次显示，请妥善保管 / shown once: keep it safe）",
        ]
    else:
        lines.append("已有有效密钥，未显示密钥；换新密钥请加 --rotate / a key exists; --rotate issues a new one")
    if earlier:
        lines.append(f"此前仍有效的密钥 / earlier keys still valid: {', '.join(earlier)} (--revoke KEY_ID 吊销)")
    lines += [
        "",
        "接收的事件 / receives (JSON Schema):",
        *_schema_lines(RECEIVES),
        "发送的事件 / sends (JSON Schema):",
        *_schema_lines(SENDS),
        "",
        "签名 / signing: 每条 cn.xiaoer.department.action 加 CloudEvents 扩展头",
        f"  {KEY_ID_HEADER} = 密钥编号 / key id",
        f"  {SIGNATURE_HEADER} = hex(HMAC-SHA256(签名密钥, ce_id \\n ce_source \\n ce_type \\n ce_time \\n 消息体))",
        "  (header values exactly as sent, each followed by a newline, then the message value bytes)",
        "  未签名、签名错误、密钥吊销或单位停用的消息进入 dept.responses.dlq（x-error 写明原因）",
        "",
        f"上传文书 / upload documents: POST {settings.public_url('router')}/v1/workitems/<id>/files "
        f"(Bearer: xiaoer token --role department --unit {code}), then name the file id in attachments",
        f"示例客户端 / example client: examples/department_client.py --unit {code} --key-id <key id> ...",
        "",
        "生产 Kafka 的账号和 ACL / the unit's user and ACLs on the production broker:",
        *[f"  {c}" for c in kafka_grant_commands(code, issued)],
    ]
    return "\n".join(lines)
