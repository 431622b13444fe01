"""Guardrails on what a draft says, not only on what it cites (English and Chinese).

- `placeholder`: template slots a model copied from its training replies — `[Your Company Name]`,
  `{{Order Number}}`, `<name>`, `XXX`, `【客服名称】`, `某某`;
- `deflection`: sending the customer to "customer service" — the team they are already writing to;
- `unsupported_promise` / `unsupported_refusal`: a commitment about a refund, a cancellation, a return,
  compensation, a replacement, a delivery date or a policy exception that no cited article supports (a
  refusal is supported only by a cited sentence that itself says no about the same subject);
- `contradiction`: a figure with a unit ("30 days", "5 个工作日", "$9.95") where the cited article gives the
  same kind of figure for the same thing with another value.

Each check returns a readable reason or None; `shared.drafting.guardrails.check_draft` collects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.pii_zh import normalise_width

_PLACEHOLDER_WORDS = (
    r"name|number|company|customer|order|date|time|address|phone|e-?mail|link|url|website|amount|price|"
    r"product|item|agent|insert|your|city|country|code|account|department|team|hours|tracking|store"
)
PLACEHOLDER = re.compile(
    r"\{\{[^{}\n]{1,60}\}\}"  # {{Order Number}}
    r"|\{\s*[A-Za-z_][\w ]{0,40}\}"  # {name}
    r"|\[[^\[\]\n]*[A-Za-z][^\[\]\n]{0,60}\]"  # [Your Company Name]: square brackets around words
    r"|\[[\u4e00-\u9fff]{1,12}\]"  # [姓名]
    r"|<\s*[A-Za-z_][\w ]{0,40}>"  # <name>, <ORDER_ID>
    r"|(?<![A-Za-z])(?:X{3,}|x{4,})(?![A-Za-z])|[$€£¥]\s?X{1,}(?:[.,]X+)?"  # XXX, $XX.XX
    r"|【[^】\n]{1,30}】|某某"  # 【客服名称】, 某某
    r"|_{4,}",  # a blank to fill in
)
_PLACEHOLDER_HINT = re.compile(rf"(?i)\b(?:{_PLACEHOLDER_WORDS})\b|[A-Z]{{2,}}|_")

_CONTACT = (
    r"(?:contact(?:ing)?|reach(?:ing)?(?: out to)?|get(?:ting)? in touch "
    r"with|call(?:ing)?|phone|ring|e-?mail(?:ing)?"
    r"|speak(?:ing)? (?:to|with)|talk(?:ing)? to|write to|get hold of)"
)
_SUPPORT_DESK = (
    r"(?:customer (?:service|support|care|success|relations)|support (?:team|staff|department|desk|line)"
    r"|service (?:team|desk|department)|help ?desk|help ?line|hotline|call cent(?:er|re)|our team directly"
    r"|us (?:directly|by phone|via|on|at|through))"
)
DEFLECTION_EN = re.compile(
    rf"(?i)\b{_CONTACT}\s+(?:our |the |your |a )?(?:[\w ]{{0,25}}?\s)?{_SUPPORT_DESK}"
    # the desk named, then sent to: "our customer service team will be able to help you, contact them"
    rf"|\b{_SUPPORT_DESK}\b[^.!?\n]{{0,80}}?(?:\b{_CONTACT} them\b|give them a (?:call|ring|shout)"
    r"|\bwill be (?:able|happy|glad|pleased) to (?:help|assist))"
)
DEFLECTION_ZH = re.compile(
    r"(?:联系|咨询|致电|拨打|询问|找)(?:一下)?(?:我们的|我们|官方)?(?:在线|人工)?(?:客服|售后)|客服(?:热线|"
    r"电话)"
)


@dataclass(frozen=True)
class Topic:
    name: str
    words: re.Pattern[str]


TOPICS = (
    Topic(
        "refund",
        re.compile(r"(?i)\brefund\w*|\breimburs\w*|money back|退款|退钱|退还|退回.{0,4}款|退[^货]{0,2}差价"),
    ),
    Topic("cancellation", re.compile(r"(?i)\bcancel\w*|取消")),
    # taking an item back: refusing it is a refusal like a refund's ("final sale, can't be returned")
    Topic("return", re.compile(r"(?i)\breturn(?:s|ed|ing)?\b|\bsend (?:it|them) back\b|退货|退换|寄回")),
    Topic(
        "compensation",
        re.compile(
            r"(?i)\bcompensat\w*|\bvoucher|\bcoupon|store credit|account credit|goodwill|free gift|"
            r"\b\d+\s?% off|discount (?:code )?(?:on|for|off) your next|free (?:shipping|delivery) on your "
            r"next|"
            r"make (?:it )?up to you|to make up for|补偿|赔偿|优惠券|代金券|红包|积分"
        ),
    ),
    Topic(
        "replacement",
        re.compile(
            r"(?i)\breplac\w*|\bresend\w*|send (?:you )?(?:a |another )?(?:brand[- ])?new\b|换货|补发|重新"
            r"发|换新|补寄"
        ),
    ),
    Topic(
        "delivery_date",
        re.compile(
            r"(?i)\b(?:arriv\w*|deliver\w*|reach(?:es)? you|be with you|get to you"
            r"|(?:have|get|receive) (?:it|them|the parcel|your parcel|your order))\b.{0,40}?"
            r"\b(?P<when>tomorrow|today|tonight|this (?:week|weekend)|next (?:week|\w+day)"
            r"|by (?:the )?(?:end of \w+|\w+day|\d+)|on (?:\w+day|\d+)|within \d+|in \d+)"
            # "下周一" as a whole: the ticket's "下周" alone does not back a promise of next Monday
            r"|(?P<when_zh>(?:下|本|这)(?:周|星期|礼拜)[一二三四五六日天]|明天|今天|后天|本周|下周"
            r"|周[一二三四五六日天]|星期[一二三四五六日天]|\d+\s?(?:天|日|个工作日)内)"
            r".{0,8}(?:送达|到货|送到|到达|收到)"
        ),
    ),
    Topic(
        "policy_exception",
        re.compile(
            r"(?i)\bexception\b|\bwaive\w*|one-?time (?:gesture|courtesy)|outside (?:of )?(?:the|our) \w+ "
            r"(?:window|period|policy)|even though (?:it|the) \w+ (?:is|has)|(?:past|after|beyond|outside) "
            r"(?:of )?"
            r"(?:the|our|your) (?:\w+ )?(?:deadline|window|return period)|just this once|this one time|"
            r"破例|特殊处理|例外|特批|通融"
        ),
    ),
)
PROMISE = re.compile(
    r"(?i)\b(?:we(?:'ll| will| shall| are going to| can| could| have|'ve|'d| would)|i(?:'ll| will| can| "
    r"have|'ve|'d| would)"
    r"|(?:we're|we are|i'm|i am) \w+ing|you(?:'ll| will) (?:receive|get|be)|is being|has been|have "
    r"been|will be"
    r"|guarantee\w*|assure|happy to|let me|rest assured)\b"
    r"|会|将|已|马上|立即|立刻|可以|为您|给您|帮您|保证|承诺"
)
# between a "we will" and the topic, these make it a look, not a commitment ("will confirm the cancellation")
HEDGE = re.compile(
    r"(?i)\b(?:confirm|check\w*|look\w* into|let you know|update you|whether|if|review|assess|investigat\w*|"
    r"see|find out|ask)\b|告知|通知|确认|核实|查看|答复|回复|看看|是否|能否|如果"
)
_PROMISE_GAP = {True: (60, 30), False: (10, 6)}  # (before, after) the topic: Latin script, Chinese


def _promises(sentence: str, start: int, end: int) -> bool:
    """Whether a commitment marker governs the topic word at [start, end): before it (or right after it:
    "a refund will be issued") within a short distance, with no "check whether"-like hedge between."""
    before, after = _PROMISE_GAP[sentence[start].isascii()]
    for match in PROMISE.finditer(sentence):
        if match.end() <= start:
            gap = sentence[match.end() : start]
            if len(gap) <= before and not HEDGE.search(gap):
                return True
        elif match.start() >= end:
            gap = sentence[end : match.start()]
            if len(gap) <= after and not HEDGE.search(gap):
                return True
    return False


REFUSAL = re.compile(
    r"(?i)\b(?:cannot|can ?not|can't|unable to|not able to|won't|will not|do not|don't|does "
    r"not|doesn't|are not|aren't"
    r"|is not|isn't|not (?:be )?(?:eligible|possible|available|allowed|permitted|covered|entitled)|no "
    r"longer)\b"
    r"|\bno (?:refunds?|cancellations?|compensation|replacements?)\b"
    r"|无法|不能|不可以|不予|不支持|不提供|不接受|没办法|不符合|不在.{0,6}范围|不退|不给"
)
NEGATION = re.compile(
    r"(?i)\b(?:not|cannot|can't|no|never|unless|only|except)\b|无法|不能|不可|不予|不支持|不提供|不退|除非|"
    r"仅|只"
)
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(normalise_width(text)) if s and s.strip()]


def placeholder_reason(draft: str) -> str | None:
    found = []
    for match in PLACEHOLDER.finditer(draft):
        text = match.group(0)
        slot = text.startswith(("[", "<", "{")) and not text.startswith("{{")
        if slot and not _PLACEHOLDER_HINT.search(text) and not re.search(r"[\u4e00-\u9fff]", text):
            continue  # "[1]"-like or a lowercase aside: not a template slot
        found.append(text)
    return f"template placeholder(s) {', '.join(repr(f) for f in found[:5])}" if found else None


def deflection_reason(draft: str) -> str | None:
    text = normalise_width(draft)
    match = DEFLECTION_EN.search(text) or DEFLECTION_ZH.search(text)
    return f"sends the customer to customer service: {match.group(0)!r}" if match else None


AFTER_TOPIC = re.compile(
    r"(?i)^\W{0,3}(?:\w+\W+){0,3}?(?:(?:is|are|will be|would be)? ?(?:not|never)|isn't|aren't|won't be) "
    r"(?:possible|available|allowed|"
    r"permitted|covered|eligible|an option|offered|granted|issued|accepted)|^.{0,8}(?:不予|不支持|无法|不能"
    r"|不可以)"
)
_CLAUSE_BREAK = re.compile(r"(?i)[,;:，；：]|\b(?:but|then|so|if|we|unless|because)\b|然后|如果|但是")
_LIST_JOIN = re.compile(r"(?i)\b(?:and|or)\b|或者|和")  # "can't be returned or refunded": a list, if short


def _refuses(sentence: str, start: int, end: int) -> bool:
    """Whether the topic word at [start, end) is what the sentence says no to: a "no" at most five words
    (eight characters in Chinese) before it within the same clause, or "is not possible"-like after it."""
    latin = sentence[start].isascii()
    for match in REFUSAL.finditer(sentence[:end]):
        gap = sentence[match.end() : start]
        near = len(gap.split()) <= 5 if latin else len(gap) <= 8
        joined = _LIST_JOIN.search(gap) and (len(gap.split()) > 3 if latin else len(gap) > 5)
        if match.end() <= start and near and not _CLAUSE_BREAK.search(gap) and not joined:
            return True
    return bool(AFTER_TOPIC.search(sentence[end:]))


_DELIVERY_FACT = re.compile(r"(?i)arriv|deliver|working days|dispatch|送达|工作日|到货|发货")


def _date_supported(expression: str, sources: list[str], cited: list[str]) -> bool:
    """A delivery date is supported when its figure is in a cited delivery sentence ("within 2" ← "Express
    delivery takes 1-2 working days"), or its words ("tomorrow", "周五") are in the ticket or an article."""
    if any(expression in source for source in sources):  # "在 14 天内送到" as the article says it
        return True
    numbers = re.findall(r"\d+", expression)
    if numbers:
        return any(
            _DELIVERY_FACT.search(s) and all(n in re.findall(r"\d+", s) for n in numbers) for s in cited
        )
    word = (
        re.sub(r"(?i)^(?:on|by|within|in)\s+|(?:送达|到货|送到|到达|收到)$", "", expression).strip().lower()
    )
    return any(word and word in s.lower() for s in sources)


def _supported(topic: Topic, refusal: bool, cited: list[str], sentence: str) -> bool:
    """A promise needs a cited sentence on the topic; a refusal one that itself says no to it about the
    same thing (two content words besides the topic in common: "a dispatched order cannot be cancelled"
    backs "your order has been dispatched, so it cannot be cancelled", not "sale items can't be returned")."""
    words = _content(topic.words.sub(" ", sentence))
    for other in cited:
        match = topic.words.search(other)
        if match is None:
            continue
        if not refusal:
            return True
        if (
            _refuses(other, match.start(), match.end())
            and len(words & _content(topic.words.sub(" ", other))) >= 2
        ):
            return True
    return False


def commitment_reasons(
    draft: str, *, ticket_text: str, cited_articles: list[str]
) -> tuple[list[str], list[str]]:
    """(unsupported promises, unsupported refusals), one readable item per topic."""
    cited = [s for article in cited_articles for s in sentences(article)]
    promises: dict[str, str] = {}
    refusals: dict[str, str] = {}
    for sentence in sentences(draft):
        for topic in TOPICS:
            match = topic.words.search(sentence)
            if match is None:
                continue
            refusal = _refuses(sentence, match.start(), match.end())
            promised = _promises(sentence, match.start(), match.end())
            if topic.name == "delivery_date" and not refusal:
                expression = match.group("when") or match.group("when_zh") or ""
                ok = _date_supported(expression, [ticket_text, *cited_articles], cited)
            elif refusal or promised or topic.name == "policy_exception":  # an exception is a promise
                ok = _supported(topic, refusal, cited, sentence)
            else:
                continue
            if not ok:
                found = refusals if refusal else promises
                found.setdefault(topic.name, f"{topic.name}: {sentence[:120]!r}")
    return list(promises.values()), list(refusals.values())


FIGURE = re.compile(
    r"(?i)(?P<cur>[$€£¥])\s?(?P<amount>\d[\d,]*(?:\.\d+)?)"
    r"|(?P<value>\d+(?:\.\d+)?(?:\s?(?:-|–|to|至|到)\s?\d+(?:\.\d+)?)?)\s*(?:个)?"
    r"(?P<unit>working days?|business days?|days?|hours?|minutes?|weeks?|months?|years?|工作日|天|小时|分钟"
    r"|周|月|年|元|%)"
)
_UNITS = {
    "working day": "working_day",
    "business day": "working_day",
    "工作日": "working_day",
    "day": "day",
    "天": "day",
    "hour": "hour",
    "小时": "hour",
    "minute": "minute",
    "分钟": "minute",
    "week": "week",
    "周": "week",
    "month": "month",
    "月": "month",
    "year": "year",
    "年": "year",
    "元": "cny",
    "%": "percent",
}
_STOP = frozenset(
    [
        "this",
        "that",
        "with",
        "within",
        "from",
        "your",
        "have",
        "will",
        "what",
        "when",
        "which",
        "would",
        "there",
        "their",
        "they",
        "them",
        "then",
        "than",
        "after",
        "before",
        "about",
        "into",
        "only",
        "also",
        "been",
        "were",
        "more",
        "most",
        "some",
        "such",
        "very",
        "just",
        "over",
        "once",
        "each",
        "other",
    ]
)


@dataclass(frozen=True)
class Figure:
    value: str
    unit: str
    sentence: str  # the clause it stands in
    context: str = ""  # the whole sentence


_CLAUSE = re.compile(r"[,;:，；：、(（]\s*|\s+(?:and|but|while|whereas)\s+")


def figures(text: str) -> list[Figure]:
    """Figures with their clause ("and your bank then needs 5-10 working days" is its own context)."""
    found = []
    for sentence in sentences(text):
        for clause in _CLAUSE.split(sentence):
            for m in FIGURE.finditer(clause):
                if m.group("cur"):
                    found.append(Figure(m.group("amount").replace(",", ""), m.group("cur"), clause, sentence))
                    continue
                unit = m.group("unit").lower().rstrip("s") if m.group("unit").isascii() else m.group("unit")
                value = re.sub(r"\s?(?:–|to|至|到)\s?", "-", m.group("value")).replace(" ", "")
                found.append(Figure(value, _UNITS.get(unit, unit), clause, sentence))
    return found


def _content(sentence: str) -> set[str]:
    """Content words (first 6 letters) and Chinese character pairs, figures and their units removed."""
    sentence = FIGURE.sub(" ", sentence)
    words = {w[:6] for w in re.findall(r"[a-z]{4,}", sentence.lower()) if w not in _STOP}
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", sentence)
    return words | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def _similarity(a: Figure, b: Figure) -> float:
    """Shared content words of the two clauses, plus half those of the two whole sentences."""
    return len(_content(a.sentence) & _content(b.sentence)) + 0.5 * len(
        _content(a.context) & _content(b.context)
    )


def contradiction_reasons(draft: str, *, ticket_text: str, cited_articles: list[str]) -> list[str]:
    """Figures that differ from what the most similar cited clause with the same unit (similarity ≥ 2)
    says: "特快配送 3-5 个工作日" against "特快配送 1-2 个工作日送达"."""
    cited = [f for article in cited_articles for f in figures(article)]
    from_ticket = {(f.value, f.unit) for f in figures(ticket_text)}
    reasons = []
    for figure in figures(draft):
        same_unit = [f for f in cited if f.unit == figure.unit]
        if (figure.value, figure.unit) in from_ticket or not same_unit:
            continue
        scores = [_similarity(figure, f) for f in same_unit]
        best = max(scores)
        closest = [f for f, score in zip(same_unit, scores, strict=True) if score == best]
        if best >= 2 and figure.value not in {f.value for f in closest}:
            reasons.append(
                f"says {figure.value} {figure.unit} where the article says {closest[0].context[:100]!r}"
            )
    return reasons
