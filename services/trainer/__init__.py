"""Trainer: fine-tuning, evaluation, ONNX export and registry publication."""
