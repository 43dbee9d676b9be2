"""Each person's saved queue views (issue 29), in the web service's own database, keyed by the staff
username: named filter and sort combinations shown as tabs of the workbench with their counts."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .i18n import N_
from .models import SavedView, StaffAccount
from .queue_filters import QueueFilters

MAX_VIEWS = 12  # tabs beyond this would not fit the workbench, and each costs a count
NAME_LENGTH = 40


class ViewRefused(ValueError):
    """Why a view was not saved: a msgid the page translates."""


async def views_of(session: AsyncSession, username: str) -> list[SavedView]:
    return list(await session.scalars(select(SavedView).where(SavedView.username == username).order_by(SavedView.id)))


async def save(session: AsyncSession, username: str, name: str, filters: QueueFilters) -> SavedView:
    """A new view of ``username``'s named ``name``; a name they use already is replaced."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_LENGTH:
        raise ViewRefused(N_("请为视图起一个 1 到 40 个字的名称"))
    if not filters.params():
        raise ViewRefused(N_("请先选择筛选条件或排序，再保存为视图"))
    if await session.get(StaffAccount, username) is None:
        raise ViewRefused(N_("只有员工账号可以保存视图"))
    views = await views_of(session, username)
    same = next((v for v in views if v.name == name), None)
    if same is not None:
        same.filters = filters.params()
        return same
    if len(views) >= MAX_VIEWS:
        raise ViewRefused(N_("视图已达上限，请先删除不用的视图"))
    view = SavedView(username=username, name=name, filters=filters.params())
    session.add(view)
    await session.flush()
    return view


async def remove(session: AsyncSession, username: str, view_id: int) -> bool:
    """Deletes one of ``username``'s own views; another person's is not theirs to delete (False)."""
    gone = await session.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.username == username))
    return gone.rowcount == 1
