"""Every domain's tables on one metadata, for what needs them all at once: the Alembic environment and the
test that compares the migrations with the models."""

from shared.access import models as access_models
from shared.db.base import Base
from shared.drafting import models as drafting_models
from shared.integrations import models as integrations_models
from shared.kb import models as kb_models
from shared.learning import models as learning_models
from shared.media import models as media_models
from shared.outbox import models as outbox_models
from shared.routing import models as routing_models
from shared.tickets import models as tickets_models

DOMAINS = (
    access_models,
    drafting_models,
    integrations_models,
    kb_models,
    learning_models,
    media_models,
    outbox_models,
    routing_models,
    tickets_models,
)
metadata = Base.metadata

__all__ = ["DOMAINS", "metadata"]
