"""Alembic environment of the intake service's own database."""

from services.intake.models import Base
from shared.db import run_migrations_online

run_migrations_online(Base.metadata)
