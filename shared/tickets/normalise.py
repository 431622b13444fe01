"""The text the models read of a ticket: an e-mail's new message, without what the customer did not write now.

Real tickets are e-mails: a greeting, the new message, a signature, a legal footer and the whole quoted
thread below it ("On Mon, … wrote:", `>` lines, "-----Original Message-----", "发件人：", "Am … schrieb").
The classifier reads 128 tokens from the start and the drafting prompt is clipped, so a quoted history or a
footer must not decide what the ticket is about. `normalise_ticket` keeps the subject and the newest message
and says what it removed (quoted history, signature, disclaimer), so the ticket API can show it; the
original subject and body are stored untouched. HTML bodies become text first (`<blockquote>` and Gmail's
quote block count as quoted history). Splitting uses `mail-parser-reply` (MIT; English, German, Chinese
and a dozen more languages' reply headers, signatures and disclaimers) plus a few markers it lacks.

One function for training, evaluation and inference alike (`Ticket.text`, `helploop train`'s reader), and
idempotent: a normalised text normalises to itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from mailparser_reply import EmailReplyParser

LANGUAGES = ["en", "de", "zh", "fr", "es", "it", "nl"]
QUOTED, SIGNATURE, DISCLAIMER, GREETING = "quoted", "signature", "disclaimer", "greeting"
_HTML = re.compile(r"(?is)<(?:html|body|div|p|br|span|table|blockquote|font|a)\b[^>]*>")
# markers mail-parser-reply does not split on: Chinese clients' "在 … 写道：" and "原始邮件" lines, a bare
# "From: …" block, and runs of quoted ("> ") lines
_EXTRA_HEADERS = re.compile(
    r"(?m)^(?:在\s*.{0,80}写道[：:]\s*$|-{2,}\s*原始邮件\s*-{2,}"
    r"|[-_]{2,}\s*(?:Original Message|Forwarded message)\s*[-_]{2,}|转发的邮件"
    r"|From:\s.+\n(?:Sent|Date|To|Subject):\s)"
)
_QUOTED_LINES = re.compile(r"(?m)(?:^>.*(?:\n|$))+")
# a sign-off line followed by at most five short lines (name, company, phone) to the end: the signature
_SIGN_OFF = re.compile(
    r"(?im)^(?:(?:many |warm |kind |best )?(?:thanks|regards|wishes)(?: again| a lot| in advance)?|thank you"
    r"|cheers|best|sincerely|yours (?:sincerely|truly)|viele grüße|mit freundlichen grüßen|谢谢|此致|祝好)"
    r"[ \t]*[,.!，。！]?[ \t]*(?:\n[^\n]{0,80}){0,5}\Z"
)
# a legal or environmental footer paragraph, to the end of the message
_FOOTER = re.compile(
    r"(?is)(?:\A|\n)(?:confidentiality notice|disclaimer\s*:|this e-?mail and any attachments"
    r"|this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|may be|may contain)[^\n]{0,20}"
    r"(?:confidential|privileged)|please consider the environment before printing"
    r"|免责声明|本邮件(?:及其附件)?(?:含有|包含|仅供|可能包含)).*\Z"
)
# a first line that only greets ("Hi Anna,", "Dear support team,", "您好，"): it carries no request
_GREETING = re.compile(
    r"(?i)\A(?:(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening))\b[^\n.?!]{0,40}"
    r"|(?:客服)?(?:您好|你好)|亲(?:爱的客服)?|尊敬的[^\n]{0,10})[ \t]*[,，:：!！]?[ \t]*\n+"
)
_MOBILE_SIGNATURE = re.compile(
    r"(?im)^(?:发自我的\s*\S+|sent from my \w+(?: \w+)?|von meinem \w+ gesendet)\s*$"
)


@dataclass(frozen=True)
class Removed:
    kind: str  # quoted | signature | disclaimer
    text: str


@dataclass(frozen=True)
class NormalisedTicket:
    text: str  # subject and the newest message: what the classifier and the drafting prompt read
    removed: tuple[Removed, ...] = ()


class _TextExtractor(HTMLParser):
    """HTML → text with line breaks at block elements; quoted blocks (`<blockquote>`, Gmail's quote div)
    and invisible content (style, script, head) kept apart. Depth counters, not stack scans: a deeply
    nested body stays linear."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "hr", "blockquote"})
    HIDDEN = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quoted: list[str] = []
        self._stack: list[tuple[str, str]] = []  # (tag, role): role quote | hidden | plain
        self._depth = {"quote": 0, "hidden": 0, "plain": 0}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(value or "" for name, value in attrs if name == "class")
        if tag == "blockquote" or (tag == "div" and "gmail_quote" in classes):
            role = "quote"
        elif tag in self.HIDDEN:
            role = "hidden"
        else:
            role = "plain"
        if tag not in ("br", "hr", "img", "meta", "link", "input"):  # void elements never close
            self._stack.append((tag, role))
            self._depth[role] += 1
        if tag in self.BREAKS:
            self._target().append("\n")

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, max(-1, len(self._stack) - 50), -1):  # a nearby opener
            if self._stack[i][0] == tag:
                for _, role in self._stack[i:]:
                    self._depth[role] -= 1
                del self._stack[i:]
                break

    def _target(self) -> list[str]:
        if self._depth["hidden"]:
            return []
        return self.quoted if self._depth["quote"] else self.parts

    def handle_data(self, data: str) -> None:
        self._target().append(data)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def plain_text(html: str) -> str:
    """HTML to text for helpdesks that send HTML bodies; quoted blocks follow the message as "> " lines,
    so the stored text still shows (and `normalise_ticket` still finds) what was quoted."""
    text, quoted = html_to_text(html)
    if not quoted:
        return text
    return _tidy(text + "\n\n" + "\n".join(f"> {line}".rstrip() for line in quoted.split("\n")))


def html_to_text(html: str) -> tuple[str, str]:
    """(the message, the quoted blocks) of an HTML body."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return _tidy("".join(extractor.parts)), _tidy("".join(extractor.quoted))


def looks_like_html(text: str) -> bool:
    return bool(_HTML.search(text))


@lru_cache(maxsize=1)
def _parser() -> EmailReplyParser:
    return EmailReplyParser(languages=LANGUAGES)


def _split_extra(body: str) -> tuple[str, str]:
    """The text before the first marker mail-parser-reply misses, and the rest (quoted history)."""
    match = _EXTRA_HEADERS.search(body)
    head, rest = (body[: match.start()], body[match.start() :]) if match else (body, "")
    quoted = [m.group() for m in _QUOTED_LINES.finditer(head)]
    if quoted and head.strip().startswith(">") and len(quoted) == 1:
        return head, rest  # a message that is only a quote: keep it rather than leave nothing
    for block in quoted:
        head = head.replace(block, "\n")
    return head, "\n".join([*(q.strip() for q in quoted), rest.strip()]).strip()


def _newest_message(body: str) -> tuple[str, list[Removed]]:
    head, extra_quoted = _split_extra(body)
    head = head.strip()
    removed = [Removed(QUOTED, extra_quoted)] if extra_quoted else []
    replies = _parser().read(head).replies if head else []
    message = replies[0].body if replies else ""
    if message.strip():
        newest = replies[0]
        removed = [
            *(Removed(DISCLAIMER, d) for d in newest.disclaimers if d),
            *([Removed(SIGNATURE, newest.signatures)] if newest.signatures else []),
            *(Removed(QUOTED, f"{r.headers}\n{r.full_body}".strip()) for r in replies[1:]),
            *removed,
        ]
    else:  # the parser took everything for a signature or a header: keep the text
        message = head
    message = _tidy(message)
    while True:  # until nothing more is cut: the same text then normalises to itself
        footer = _FOOTER.search(message)
        if footer and message[: footer.start()].strip():
            removed.insert(0, Removed(DISCLAIMER, message[footer.start() :].strip()))
            message = _tidy(message[: footer.start()])
            continue
        found = _MOBILE_SIGNATURE.search(message) or _SIGN_OFF.search(message)
        if not found or not message[: found.start()].strip():
            break
        removed.insert(0, Removed(SIGNATURE, message[found.start() :].strip()))
        message = _tidy(message[: found.start()])
    while (greeting := _GREETING.match(message)) and message[greeting.end() :].strip():
        removed.insert(0, Removed(GREETING, greeting.group().strip()))
        message = _tidy(message[greeting.end() :])
    return message, removed


@lru_cache(maxsize=128)  # a worker reads a ticket's text a few times in a row
def normalise_ticket(body: str, subject: str = "") -> NormalisedTicket:
    """The subject and the newest message of `body` (text or HTML), and what was removed."""
    removed: list[Removed] = []
    if looks_like_html(body):
        body, quoted_html = html_to_text(body)
        if quoted_html:
            removed.append(Removed(QUOTED, quoted_html))
    message, parts = _newest_message(_tidy(body))
    for _ in range(3):  # a degenerate message (one that starts with a reply header) may split again
        again, more = _newest_message(message)
        if again == message:
            break
        message, parts = again, [*more, *parts]
    removed = [*parts, *removed]
    subject = re.sub(r"(?i)^(?:(?:re|fw|fwd|aw|wg|回复|答复|转发)\s*[:：]\s*)+", "", subject.strip())
    text = f"{subject}\n\n{message}" if subject and message else subject or message
    return NormalisedTicket(text, tuple(r for r in removed if r.text.strip()))


def model_text(text: str) -> str:
    """A text as the models read it (training files, evaluation sets): the same normalisation as tickets."""
    return normalise_ticket(text).text


def removed_parts(body: str, subject: str = "") -> list[dict[str, Any]]:
    return [{"kind": r.kind, "text": r.text} for r in normalise_ticket(body, subject).removed]
