"""Who may see a work item: the department-queue scope, in one place. Every route that reads or
acts on one item takes it as :data:`VisibleItem`, and every list filters through
:func:`visible_items`, so the rule and its SQL twin stand side by side here.

- a department unit (its clerks and its own system): the items it holds and those it assists
  (会办); a region's coordinating office (``<region>.coordinator``) holds the items returned or
  left unmatched there, and sees them as long as it holds them;
- supervisors and admins: the items whose subject lies in their region (by the GB/T 2260
  hierarchy, ``Principal.covers_region``); a national admin: every item;
- enterprises and liaison officers: none here (they follow their requests in intake).

Someone else's item answers 404, exactly as a missing one, so ids reveal nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, Select, String, and_, cast, false, literal_column, or_, select
from sqlalchemy.orm import aliased

from shared import db
from shared.auth import Principal, Staff
from shared.web import DbSession

from .document_models import IssuedDocumentRow
from .lifecycle import item_not_found
from .models import WorkItem


def may_see(principal: Principal, item: WorkItem) -> bool:
    """Whether ``principal`` may see ``item``."""
    if principal.role == "department":
        return principal.unit is not None and (
            principal.unit == item.unit_code or principal.unit in (item.assisting_units or [])
        )
    return principal.covers_region(item.subject_region)


def assisted_by(unit: str) -> Select:
    """The ids of the items ``unit`` assists (会办). Read through the partial index of items that
    have assisting units at all (``ix_work_items_assisted``, a few), so a unit's queue is an index
    lookup on a province's millions of items: a LIKE on every row's list was a full scan per call."""
    assisting = aliased(WorkItem)
    codes = cast(assisting.assisting_units, String)  # a JSON list of codes
    # "[]" as a literal, not a parameter: PostgreSQL must see the index's own condition to use it.
    return select(assisting.id).where(codes != literal_column("'[]'"), codes.contains(f'"{unit}"', autoescape=True))


def visible_items(principal: Principal) -> ColumnElement[bool]:
    """The SQL twin of :func:`may_see`: the condition on ``work_items`` rows ``principal`` may see."""
    return or_(*visible_parts(principal))


def visible_parts(principal: Principal) -> list[ColumnElement[bool]]:
    """What ``principal`` may see, in parts no row is in twice: a unit's own items, and those it
    assists of other units. Counted apart, the first reads an index alone (queue.tab_counts)."""
    if principal.role == "department":
        if principal.unit is None:
            return [false()]
        own = WorkItem.unit_code == principal.unit
        assisted = db.InSubquery(WorkItem.id, assisted_by(principal.unit))
        return [own, and_(assisted, WorkItem.unit_code != principal.unit)]
    return [principal.region_clause(WorkItem.subject_region)]


async def visible_item(item_id: str, session: DbSession, principal: Staff, request: Request) -> WorkItem:
    """The work item the path names, if the caller may see it (404 otherwise). It is read in the
    request's session, which the route commits when it changes the item; a route that may change
    it (any but GET) has it locked until then (``db.get_to_change``): a clerk's action and a
    withdrawal's cancellation at once are made one after the other, the second seeing the first.
    Only an item the caller may see is locked: a call for someone else's answers 404 at once,
    without holding it or waiting for whoever does."""
    item = await session.get(WorkItem, item_id)
    if item is not None and may_see(principal, item) and request.method not in ("GET", "HEAD"):
        item = await db.get_to_change(session, WorkItem, item_id)  # read again: it may have moved meanwhile
    if item is None or not may_see(principal, item):
        raise item_not_found()
    return item


VisibleItem = Annotated[WorkItem, Depends(visible_item)]
"""A route's ``item: VisibleItem`` is the ``{item_id}`` of its path, seen by its caller."""


# --- Issued documents (issue 27) --------------------------------------------------------------------
def may_see_document(principal: Principal, doc: IssuedDocumentRow) -> bool:
    """The enterprise that asked and the subject it is about; the issuing unit; supervisors and
    admins over the unit's or the subject's region."""
    if principal.role in ("enterprise", "liaison"):
        return doc.enterprise_uscc in principal.usccs or doc.subject_uscc in principal.usccs
    if principal.role == "department":
        return principal.unit == doc.unit_code
    return principal.covers_region(doc.unit_region) or principal.covers_region(doc.subject_region)


def may_revoke_document(principal: Principal, doc: IssuedDocumentRow) -> bool:
    """The issuing unit, or a supervisor over the unit's region."""
    if principal.role == "department":
        return principal.unit == doc.unit_code
    return principal.role == "supervisor" and principal.covers_region(doc.unit_region)


def wallet_documents(principal: Principal) -> ColumnElement[bool]:
    """The SQL twin of :func:`may_see_document` for an enterprise or liaison officer."""
    return or_(
        IssuedDocumentRow.enterprise_uscc.in_(principal.usccs), IssuedDocumentRow.subject_uscc.in_(principal.usccs)
    )
