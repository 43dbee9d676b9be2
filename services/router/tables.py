"""Every table of the router's database, for migrations and ``create_all``: the life cycle's
(``models``) and the issued documents' (``document_models``), which share one ``Base``."""

from __future__ import annotations

from . import document_models  # noqa: F401 - imported for its tables, which it adds to Base.metadata
from .models import Base

metadata = Base.metadata
