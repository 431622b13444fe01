"""Inference worker: Celery tasks that classify tickets with the active ONNX model."""
