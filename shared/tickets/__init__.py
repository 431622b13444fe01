"""Tickets: the text the models read of them (`normalise`)."""
