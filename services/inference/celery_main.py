"""Entry for the stock Celery CLI: `celery -A services.inference.celery_main worker -Q triage`."""

from services.inference.worker import create_worker_app
from shared.settings import get_settings

app = create_worker_app(get_settings())
