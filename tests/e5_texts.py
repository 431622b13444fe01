"""Seeded mixed Chinese/English support-ticket texts for the multilingual-e5 converter's proof.

Half come from ../shared/datasets when it is there (CAIS Chinese intents, Banking77, CLINC150 and pairs of
them); otherwise, and for the other half, texts are generated from the phrase tables below. The edge cases
(spaces, punctuation, emoji, full-width forms, combining marks, other scripts, special-token strings) and
three long texts (> 512 tokens) are always added.
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

from tests.conftest import REPO_ROOT

DATASETS = Path(os.environ.get("HELPLOOP_DATASETS_DIR", REPO_ROOT.parent / "shared" / "datasets"))
N_TEXTS = 1200


def _phrases(block: str) -> list[str]:
    """Phrases separated by "|", over several lines."""
    return [phrase for line in block.strip().splitlines() for phrase in line.split("|")]


ZH_SUBJECTS = _phrases("我的|你们的|这个|上周买的|刚下单的|朋友送的")
ZH_NOUNS = _phrases("订单|包裹|快递|发票|账号|退款|优惠券|会员卡|手机|耳机|外卖|衣服")
ZH_PREDICATES = _phrases(
    """
还没到|一直显示运输中|显示签收了但我没收到|金额不对|无法登录|申请了一周还没处理
怎么取消|可以改地址吗|坏了，要换货|什么时候发货|被扣了两次钱|少发了一件
"""
)
ZH_TAILS = _phrases("，请尽快处理。|！！|？|，谢谢|。已经两周了|，我要投诉！||……|（急）")
EN_SUBJECTS = ["My order", "The package", "My refund", "The invoice", "My account", "The app", "Your courier"]
EN_PREDICATES = ["has not arrived yet", "was charged twice", "is stuck in transit", "cannot be found"]
EN_PREDICATES += ["keeps crashing on login", "shows the wrong amount", "was cancelled without notice"]
EN_TAILS = [".", "!", "?", " - please help.", " :(", " asap!!", " since last Monday.", " Thanks, Anna"]
EMOJI = _phrases("😀|😡|👍🏻|🙏|📦|❤️|🧌|🫠")
EDGE_CASES = [
    " ",
    "   ",
    "\t\n",
    "。",
    "？？？",
    "!!!",
    "...",
    "😀",
    "😀😀😀",
    "👍🏻👍🏿",
    "\U0001f9cc\U0001f9cc",
]
EDGE_CASES += [
    "ＡＢＣ１２３",
    "全角：（你好）！",
    "\u3000全角空格\u3000",
    "mixed 中英 text 订单 order #12345 退款",
]
EDGE_CASES += ["e\u0301 café naïve", "Ａ\u0301", "ｶﾞｷﾞ ﾊﾟｿｺﾝ", "①②③ ㈱ ﬁle Ⅻ", "𝐁𝐨𝐥𝐝 𝟏𝟐𝟑", "\u200b", "a\u200db"]
EDGE_CASES += ["x<s>y </s> <mask>", "tab\tsep", "crlf\r\nline\r\n", "  double  spaces  ", "\u00a0nbsp\u00a0"]
EDGE_CASES += ["한국어 주문", "日本語のテキストです", "Привет, где мой заказ?", "أين طلبي؟", "मेरा ऑर्डर कहाँ है"]
EDGE_CASES += ["คำสั่งซื้อของฉัน", "Tiếng Việt đơn hàng", "mañana ¿dónde está?", "\x1b[31mred\x1b[0m", "\ufeffBOM"]
EDGE_CASES += ["▁meta▁space", "“quotes” ‘single’ — dash – 《书名》「引号」", "¥100 ￥200 $300 €400"]
EDGE_CASES += ["user@example.com https://x.cn/a?b=1", "\x05\x06 leading controls", "\u0301 leading mark"]


def mixed_texts(n: int = N_TEXTS, seed: int = 19) -> list[str]:
    """Up to half from ../shared/datasets (Chinese intents, Banking77, CLINC150) when present, the rest (or
    all) generated from the phrase tables above; then the edge cases and three long texts."""
    rng = random.Random(seed)
    texts = _dataset_texts(rng, n // 2)
    while len(texts) < n:
        texts.append(_generated(rng))
    long_zh = "".join(_zh(rng) for _ in range(60))
    long_en = " ".join(_en(rng) for _ in range(80))
    return texts + EDGE_CASES + [long_zh, long_en, long_zh[:300] + " " + long_en[:900]]


def _zh(rng: random.Random) -> str:
    return rng.choice(ZH_SUBJECTS) + rng.choice(ZH_NOUNS) + rng.choice(ZH_PREDICATES) + rng.choice(ZH_TAILS)


def _en(rng: random.Random) -> str:
    return f"{rng.choice(EN_SUBJECTS)} {rng.choice(EN_PREDICATES)}{rng.choice(EN_TAILS)}"


def _generated(rng: random.Random) -> str:
    """A Chinese (30 %), English (30 %) or mixed ticket; some with an order number, emoji or full-width."""
    kind = rng.random()
    if kind < 0.3:
        text = _zh(rng) + (f" 订单号 #{rng.randint(10000, 99999)}" if rng.random() < 0.3 else "")
    elif kind < 0.6:
        text = _en(rng) + (f" order NW-{rng.randint(1, 999)}" if rng.random() < 0.3 else "")
    else:
        separator = rng.choice([" ", "，", ", ", "\n", "  ", "", "。"])
        parts = [_zh(rng), _en(rng)]
        rng.shuffle(parts)
        text = separator.join(parts)
    if rng.random() < 0.15:
        text = rng.choice(EMOJI) + " " + text + rng.choice(EMOJI)
    if rng.random() < 0.1:  # full-width letters and digits
        text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    return text


def _dataset_texts(rng: random.Random, n: int) -> list[str]:
    pools = [_csv_texts(DATASETS / "cais_zh" / "train.csv"), _csv_texts(DATASETS / "banking77" / "train.csv")]
    clinc = DATASETS / "clinc150" / "data_full.json"
    pools.append([text for text, _ in json.loads(clinc.read_text())["train"]] if clinc.is_file() else [])
    chinese, english = pools[0], pools[1] + pools[2]
    if not chinese or not english:
        return []
    texts = rng.sample(chinese, n * 2 // 5) + rng.sample(english, n * 2 // 5)
    while len(texts) < n:
        texts.append(rng.choice(chinese) + rng.choice([" ", "，", ""]) + rng.choice(english))
    return texts


def _csv_texts(path: Path) -> list[str]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]
