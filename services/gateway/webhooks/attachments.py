"""Where each helpdesk says a new ticket's attachments are: a list of `{"filename", "content_type", "url"}`
for `TicketIn.attachments`. Nothing is downloaded here — a worker fetches them, from the integration's
hosts only and with its credentials (`shared.media.sources`).

- Zendesk: `attachments[]` (`file_name`, `content_type`, `content_url`) on the ticket or its `comment`
  (our trigger body passes the first comment's).
- Zammad: the article's `attachments[]` (`id`, `filename`, `preferences["Content-Type"]`), downloaded from
  `/api/v1/ticket_attachment/<ticket>/<article>/<id>` on the integration's `base_url`.
- Freshdesk: `attachments[]` (`name`, `content_type`, `attachment_url`).
- Jira Service Management: `fields.attachment[]` (`filename`, `mimeType`, `content`).
Entries without a usable http(s) URL are skipped; at most MAX_LISTED are taken (the intake cap decides)."""

from __future__ import annotations

from typing import Any

MAX_LISTED = 50


def _entries(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)][:MAX_LISTED] if isinstance(value, list) else []


def _entry(filename: Any, content_type: Any, url: Any) -> dict[str, Any] | None:
    url = str(url or "").strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
        return None
    return {
        "filename": str(filename or "attachment")[:255],
        "content_type": str(content_type)[:100] if content_type else None,
        "url": url,
    }


def _kept(entries: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry is not None]


def zendesk(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    comment = ticket.get("comment") if isinstance(ticket.get("comment"), dict) else {}
    items = _entries(ticket.get("attachments")) + _entries(comment.get("attachments"))
    return _kept([_entry(i.get("file_name"), i.get("content_type"), i.get("content_url")) for i in items])


def zammad(article: dict[str, Any], ticket_id: str, base_url: str | None) -> list[dict[str, Any]]:
    if not base_url:
        return []
    base, article_id = base_url.rstrip("/"), article.get("id")
    out = []
    for item in _entries(article.get("attachments")):
        preferences = item.get("preferences") if isinstance(item.get("preferences"), dict) else {}
        attachment_id = item.get("id")
        if not str(attachment_id or "").isdigit() or not str(article_id or "").isdigit():
            continue
        url = f"{base}/api/v1/ticket_attachment/{int(ticket_id)}/{int(article_id)}/{int(attachment_id)}"
        out.append(_entry(item.get("filename"), preferences.get("Content-Type"), url))
    return _kept(out)


def freshdesk(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    items = _entries(ticket.get("attachments")) + _entries(ticket.get("ticket_attachments"))
    return _kept([_entry(i.get("name"), i.get("content_type"), i.get("attachment_url")) for i in items])


def jira(fields: dict[str, Any]) -> list[dict[str, Any]]:
    items = _entries(fields.get("attachment"))
    return _kept([_entry(i.get("filename"), i.get("mimeType"), i.get("content")) for i in items])
