"""Model runtime shared by workers: onnxruntime sessions and tokenizers, no torch."""
