"""Alembic environment of the notifier service's own database."""

from services.notifier.models import Base
from shared.db import run_migrations_online

run_migrations_online(Base.metadata)
