"""Storage: engine/session helpers and Alembic migrations. Each domain keeps its own tables (`models.py`
in its package, on `shared.db.base.Base`); `shared.db.tables` gathers them all for the migrations."""

from shared.db.engine import build_engine, build_session_factory, session_scope, upgrade_database

__all__ = ["build_engine", "build_session_factory", "session_scope", "upgrade_database"]
