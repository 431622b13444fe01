"""Helpdesk webhooks: per-provider signature checks and payload mapping."""
