"""The intent tag: write-back sets `helploop_intent_<label>` on the helpdesk ticket; agents correct the
intent by changing that tag, so the ticket's final tags carry the final intent. Read by the gateway (tags
in a webhook payload) and by the write-back worker (tags read from the helpdesk's API)."""

from __future__ import annotations

import re
from typing import Any

INTENT_TAG = re.compile(r"^helploop_intent_([a-z0-9_]+)$")


def intent_from_tags(tags: Any) -> dict[str, str]:
    """`{"label": <intent>}` from the first intent tag in a list or a comma/space separated string."""
    items = tags.replace(",", " ").split() if isinstance(tags, str) else list(tags or [])
    for tag in items:
        match = INTENT_TAG.match(str(tag).strip().lower())
        if match:
            return {"label": match.group(1)}
    return {}
