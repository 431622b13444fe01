"""Routing: which tickets get an auto-reply, a draft for an agent, or a hand-off to a human."""
