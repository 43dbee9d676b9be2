"""Alembic environment of the web service's own database (staff accounts)."""

from services.web.models import Base
from shared.db import run_migrations_online

run_migrations_online(Base.metadata)
