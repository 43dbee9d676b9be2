"""Who the notifier tells: each unit's contacts and leadership and each region's supervising
office, as the department registry announces them (``registry.events``), plus what admins add
through the API and enterprise users bound through WeChat."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events

from .models import KnownUnit, Recipient

CHANNEL_OF_CONTACT = {"email": "email", "webhook": "webhook", "wechat_openid": "wechat"}


async def add(
    session: AsyncSession,
    kind: str,
    key: str,
    channel: str,
    address: str,
    name: str | None,
    region_code: str | None = None,
    source: str = "api",
) -> bool:
    existing = await session.scalar(
        select(Recipient.id).where(
            Recipient.kind == kind, Recipient.key == key, Recipient.channel == channel, Recipient.address == address
        )
    )
    if existing is None:
        session.add(
            Recipient(
                kind=kind, key=key, channel=channel, address=address, name=name, region_code=region_code, source=source
            )
        )
        return True
    return False


async def _replace_from_registry(
    session: AsyncSession, kinds: dict[str, str], key: str, region_code: str, contacts: list[events.Contact]
) -> None:
    """The registry's recipients for ``key`` become exactly ``contacts``; those admins added
    through the API stay."""
    await session.execute(
        delete(Recipient).where(
            Recipient.key == key, Recipient.kind.in_(set(kinds.values())), Recipient.source == "registry"
        )
    )
    await session.flush()
    for contact in contacts:
        kind = kinds[contact.role]
        for field, channel in CHANNEL_OF_CONTACT.items():
            address = getattr(contact, field)
            if address:
                await add(session, kind, key, channel, address, contact.name, region_code, source="registry")


async def unit_registered(session: AsyncSession, event: events.UnitRegistered) -> None:
    unit = await session.get(KnownUnit, event.unit_code)
    if unit is None:
        unit = KnownUnit(unit_code=event.unit_code)
        session.add(unit)
    unit.name, unit.kind, unit.region_code, unit.active = event.name, event.kind, event.region_code, event.active
    unit.phone, unit.office_hours = event.phone, event.office_hours  # shown to enterprises on their items
    await _replace_from_registry(
        session, {"clerk": "unit", "leadership": "leadership"}, event.unit_code, event.region_code, event.contacts
    )


async def supervisor_registered(session: AsyncSession, event: events.SupervisingOfficeRegistered) -> None:
    await _replace_from_registry(
        session,
        {"clerk": "supervisor", "leadership": "supervisor"},
        event.region_code,
        event.region_code,
        event.contacts,
    )


async def region_of(session: AsyncSession, kind: str, key: str) -> str | None:
    """The region a recipient belongs to: its unit's, or the supervising office's own."""
    if kind == "supervisor":
        return key
    if kind in ("unit", "leadership"):
        unit = await session.get(KnownUnit, key)
        return unit.region_code if unit else None
    return None
