"""Alembic environment of the router service's own database."""

from services.router.models import Base
from shared.db import run_migrations_online

run_migrations_online(Base.metadata)
