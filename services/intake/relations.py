"""Who may ask about whom (DOMAIN.md: a department issues a 守法证明 about a company to that company
or to someone it authorises). A request may name subjects other than its applicant only with
proof, one per subject: a relation in the enterprise-group registry (``enterprise_relations``),
or the subject's 授权委托书, a PDF uploaded and named for it. Without either, the submission is
refused naming the subject.

The registry is kept by admins (for the parents in their region) and liaison officers (for the
enterprises they serve), through the API or a file (``xiaoer relations import``, validated whole);
enterprises and supervisors read their part of it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, bindparam, delete, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, events
from shared.auth import Principal
from shared.clock import utcnow
from shared.problems import FieldError, Problem, invalid_field

from . import attachments
from .models import EnterpriseRelation
from .schemas import RelationIn, RequestCreate

APPLICANT, REGISTRY, AUTHORIZATION = "applicant", "group_registry", "authorization"


# --- scope ------------------------------------------------------------------------------------------
def may_keep(principal: Principal, parent_uscc: str, parent_region: str) -> bool:
    """Admins keep the relations of parents in their region, liaison officers those of the
    enterprises they serve."""
    if principal.role == "admin":
        return principal.covers_region(parent_region)
    return principal.role == "liaison" and principal.may_act_for(parent_uscc)


def may_read(principal: Principal, relation: EnterpriseRelation) -> bool:
    return principal.may_act_for(relation.parent_uscc) or principal.covers_region(relation.parent_region)


def visible(principal: Principal, query: Select) -> Select:
    """``query`` on enterprise_relations narrowed to what ``principal`` may read."""
    if principal.role in ("enterprise", "liaison"):
        return query.where(EnterpriseRelation.parent_uscc.in_(principal.usccs))
    if principal.role in ("supervisor", "admin"):
        return query.where(principal.region_clause(EnterpriseRelation.parent_region))
    return query.where(false())


def not_found() -> Problem:
    return Problem(404, "relation_not_found", "集团关系不存在", "No such relation")


# --- keeping the registry -----------------------------------------------------------------------
def row(parent_uscc: str, subject_uscc: str, body: RelationIn, source: str, by: str) -> dict:
    return {
        "parent_uscc": parent_uscc,
        "subject_uscc": subject_uscc,
        **body.model_dump(),
        "source": source,
        "updated_by": by,
        "updated_at": utcnow(),
    }


async def any_kept(session: AsyncSession) -> bool:
    """Whether the registry holds any relation."""
    return (await session.scalar(select(EnterpriseRelation.parent_uscc).limit(1))) is not None


async def put(session: AsyncSession, rows: Sequence[dict]) -> None:
    """Adds or replaces relations (the parent and subject name one relation)."""
    dialect = session.bind.dialect.name
    for values in rows:
        statement = db.insert_for(dialect)(EnterpriseRelation).values(**values)
        changed = {k: statement.excluded[k] for k in values if k not in ("parent_uscc", "subject_uscc")}
        await session.execute(
            statement.on_conflict_do_update(index_elements=["parent_uscc", "subject_uscc"], set_=changed)
        )


async def remove(session: AsyncSession, parent_uscc: str, subject_uscc: str) -> None:
    await session.execute(
        delete(EnterpriseRelation).where(
            EnterpriseRelation.parent_uscc == parent_uscc, EnterpriseRelation.subject_uscc == subject_uscc
        )
    )


# --- proving a submission's subjects -------------------------------------------------------------
# Which of a submission's subjects (``usccs``) the registry relates to its applicant (``parent``):
# built once, with its parameters (a submission reads it in the same SELECT as its number,
# submissions.number_and_relations; built for each submission, that statement was 18.7 % of
# intake's busy samples under load, docs/benchmarks.md).
RELATED = select(EnterpriseRelation.subject_uscc).where(
    EnterpriseRelation.parent_uscc == bindparam("parent"),
    EnterpriseRelation.subject_uscc.in_(bindparam("usccs", expanding=True)),
)


async def related(session: AsyncSession, parent_uscc: str, subject_usccs: Sequence[str]) -> set[str]:
    """Which of ``subject_usccs`` the registry relates to ``parent_uscc``."""
    if not subject_usccs:
        return set()
    return set(await session.scalars(RELATED, {"parent": parent_uscc, "usccs": list(subject_usccs)}))


def unproven(index: int, name: str) -> FieldError:
    return FieldError(
        f"subjects.{index}.uscc",
        "subject_not_authorized",
        f"无权代“{name}”申请：该主体须已登记为本企业的子公司或分支机构（集团关系），或附上其授权委托书",
        f"You may not ask about “{name}”: it must be registered as your subsidiary or branch (enterprise "
        "group), or its letter of authorisation must be attached",
    )


def check_subjects(body: RequestCreate, known: set[str]) -> None:
    """Refuses a submission naming a subject with neither proof (422, each such subject named);
    ``known``: the subjects the registry relates to the applicant."""
    errors = [unproven(i, s.name) for i, s in enumerate(body.subjects) if s.uscc not in known and not s.authorization]
    if errors:
        raise Problem(
            422,
            "validation_failed",
            "提交的内容有误，请按提示修改",
            "The request has invalid fields",
            errors=errors,
        )


async def proofs(
    session: AsyncSession, principal: Principal, body: RequestCreate, known: set[str], request_id: str
) -> list[events.SubjectProof]:
    """Each subject's proof, in the order of ``body.subjects``. A 授权委托书 named for a subject is
    its proof (the document the clerk opens) even where the registry relates it too; it is claimed
    for the request and its subject, and must be the caller's own PDF upload."""
    out = []
    for i, subject in enumerate(body.subjects):
        if not subject.authorization:
            out.append(events.SubjectProof(kind=REGISTRY))
            continue
        field = f"subjects.{i}.authorization"
        [file] = await attachments.claim(
            session,
            principal,
            [subject.authorization],
            field,
            request_id=request_id,
            purpose=AUTHORIZATION,
            subject_uscc=subject.uscc,
        )
        if file.content_type != "application/pdf":
            raise invalid_field(
                field, "not_pdf", "授权委托书须为 PDF 文件", "The letter of authorisation must be a PDF file"
            )
        out.append(events.SubjectProof(kind=AUTHORIZATION, authorization=file))
    return out
