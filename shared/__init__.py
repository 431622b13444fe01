"""helploop shared package: settings, storage, schemas, Celery factory, model runtime."""
