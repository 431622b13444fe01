"""Reply-draft generator: SmolLM2 from GGUF, fine-tuning on resolved tickets, KV-cache ONNX export."""
