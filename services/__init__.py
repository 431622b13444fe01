"""helploop services: gateway, inference, trainer."""
