"""helploop command-line composition root."""
