"""Every table of the router's database, for migrations and ``create_all``: the life cycle's
(``models``), the issued documents' (``document_models``) and the reply templates'
(``reply_templates``), which share one ``Base``."""

from __future__ import annotations

from . import document_models, reply_templates  # noqa: F401 - imported for their tables, which they add to Base.metadata
from .models import Base

metadata = Base.metadata
