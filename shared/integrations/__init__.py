"""Helpdesk integrations: their configuration, and what was delivered back to them."""
