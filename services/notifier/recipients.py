"""Loading recipients from a department registry file (the same file the router loads): each
unit's contacts, its leadership and its supervising office become who the notifier tells."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Recipient

CHANNEL_OF_CONTACT = {"email": "email", "webhook": "webhook", "wechat_openid": "wechat"}


async def add(session: AsyncSession, kind: str, key: str, channel: str, address: str, name: str | None) -> bool:
    existing = await session.scalar(
        select(Recipient.id).where(
            Recipient.kind == kind, Recipient.key == key, Recipient.channel == channel, Recipient.address == address
        )
    )
    if existing is None:
        session.add(Recipient(kind=kind, key=key, channel=channel, address=address, name=name))
        return True
    return False


async def load_from_registry(session: AsyncSession, data: dict[str, Any]) -> int:
    """Contacts are ``{"role": "clerk"|"leadership", "email"|"webhook"|"wechat_openid": …}``;
    ``supervisors`` are ``{"region_code", "email"|…}``. Loading twice adds nothing."""
    added = 0
    for unit in data.get("units", []):
        for contact in unit.get("contacts", []):
            kind = "leadership" if contact.get("role") == "leadership" else "unit"
            for field, channel in CHANNEL_OF_CONTACT.items():
                if contact.get(field):
                    added += await add(session, kind, unit["unit_code"], channel, contact[field], contact.get("name"))
    for supervisor in data.get("supervisors", []):
        for field, channel in CHANNEL_OF_CONTACT.items():
            if supervisor.get(field):
                added += await add(
                    session, "supervisor", supervisor["region_code"], channel, supervisor[field], supervisor.get("name")
                )
    await session.flush()
    return added
