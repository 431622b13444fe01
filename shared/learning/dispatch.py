"""Publish a job's chunks as one Celery group (by task name: no worker code imported)."""

from __future__ import annotations

from celery import Celery, group

from shared.celery_app import TASK_RECLASSIFY_CHUNK, queue_of


def dispatch_chunks(app: Celery, job_id: str, positions: list[int]) -> None:
    signatures = [
        app.signature(
            TASK_RECLASSIFY_CHUNK,
            args=[job_id, position],
            queue=queue_of(TASK_RECLASSIFY_CHUNK),
            immutable=True,
        )
        for position in positions
    ]
    group(signatures).apply_async(ignore_result=True)
