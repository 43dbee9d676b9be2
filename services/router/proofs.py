"""How a request proved that its applicant may ask about an item's subject (who may ask about
whom): the clerk sees it beside the subject — the applicant itself, a relation in the
enterprise-group registry, or the subject's 授权委托书 to open — and may return the item to the
enterprise with the reason class 主体授权不符 when it does not hold."""

from __future__ import annotations

from typing import Any

from shared.vocabulary import SUBJECT_PROOFS

from .models import ItemFile, WorkItem
from .schemas import FileOut, SubjectProofOut


def proof_out(body: dict[str, Any], item: WorkItem, files: list[ItemFile], file_out) -> SubjectProofOut | None:
    """The proof of ``item``'s subject as the request (``body``, the submitted event) gave it;
    None for requests from before proofs were kept."""
    subject = next((s for s in body.get("subjects", []) if s.get("uscc") == item.subject_uscc), None)
    proof = (subject or {}).get("proof")
    if not proof:
        return None
    authorization = (proof.get("authorization") or {}).get("id")
    found: FileOut | None = next((file_out(item, f) for f in files if f.id == authorization), None)
    return SubjectProofOut(kind=proof["kind"], kind_name=SUBJECT_PROOFS.zh(proof["kind"]), file=found)
