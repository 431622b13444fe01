"""Transactional outbox: a message is stored in the same transaction as the row it is about, and a relay
publishes it to the broker afterwards (at least once, in order)."""
