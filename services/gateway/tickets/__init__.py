"""Tickets domain: intake (webhooks, API), idempotency, status views."""
