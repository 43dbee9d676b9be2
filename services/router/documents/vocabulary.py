"""The words of issued documents, as terms (code, Chinese, English).

They live here for now, beside the documents they describe; they move to ``shared/vocabulary.py``
when the router's API, the events and the pages start to carry them (issue 27, phase B).
"""

from __future__ import annotations

from shared.vocabulary import Term, Terms

# Why an issuing unit (or its supervisor) revoked a document. The class is what the public
# verification shows; the unit's own words stay on its record.
REVOCATION_REASONS = Terms(
    Term("content_error", "内容有误", "Content error"),
    Term("duplicate", "重复出具", "Issued twice"),
    Term("revoked_by_law", "依法撤销", "Revoked by law"),
    Term("other", "其他", "Other"),
)

# A document's status on the public verification.
DOCUMENT_STATUSES = Terms(
    Term("valid", "有效", "Valid"),
    Term("revoked", "已撤销", "Revoked"),
)

# Whether a genuine certificate is still within the window in which readers (保荐机构, the
# exchange) usually accept it. Past the window it stays genuine: it is only older than advised.
USE_WINDOW_STATES = Terms(
    Term("within", "在建议使用期内", "Within the advised period of use"),
    Term("past", "超出建议使用期", "Past the advised period of use"),
)

# What the byte-identity check of an uploaded PDF found.
IDENTITY_RESULTS = Terms(
    Term("identical", "与登记的文件一致", "Identical to the registered file"),
    Term("different", "与登记的文件不一致", "Not identical to the registered file"),
)

# What xiaoer issues with a 核验码: a certificate it wrote and signed for the unit, or the
# one-page verification slip (核验单) beside a PDF the unit uploaded from its own system.
DOCUMENT_FORMS = Terms(
    Term("certificate", "证明", "Certificate"),
    Term("verification_slip", "核验单", "Verification slip"),
)
