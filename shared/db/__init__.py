"""Storage: SQLAlchemy models, engine/session helpers and Alembic migrations."""

from shared.access import models as _access_models  # noqa: F401
from shared.db.engine import build_engine, build_session_factory, session_scope, upgrade_database
from shared.db.models import Base, Ticket, TicketStatus, TriageResult
from shared.drafting import models as _draft_models  # noqa: F401  (registers the domain tables on Base)
from shared.integrations import models as _integration_models  # noqa: F401
from shared.kb import models as _kb_models  # noqa: F401
from shared.learning import models as _learning_models  # noqa: F401
from shared.outbox import models as _outbox_models  # noqa: F401
from shared.routing import models as _routing_models  # noqa: F401

__all__ = [
    "Base",
    "Ticket",
    "TicketStatus",
    "TriageResult",
    "build_engine",
    "build_session_factory",
    "session_scope",
    "upgrade_database",
]
