"""Chinese personal data for `shared/pii.py`: mainland mobile numbers (1[3-9] + 9 digits, with or without
+86/0086/86, bare or 3-4-4), resident identity numbers (18 characters with a province code, a birth date
and the MOD 11-2 check character; 15-digit old ones only after a 身份证 label), QQ numbers and WeChat ids
after their label, and addresses (省/市/区/县/镇 … 路/街/巷 … 号/弄/栋/单元/室).

Chinese is written without spaces, and `\\b`/`\\w` count CJK characters as word characters:
"电话是13812345678，" has no word boundary before the 1. `WORD` is a word character that is not
CJK, so the number detectors look for "not glued to a Latin letter, digit or _" instead. Full-width
digits, letters and punctuation (１３８, ＋８６, （, ：) are mapped one-to-one onto ASCII by
`normalise_width`, so offsets hold.

A number right after a reference label (订单号, 单号, 运单号, 发票代码, 验证码, 顺丰 …, "order no.") is that
reference and never personal data, whatever it looks like; a number after a hotline label (客服热线) is
the company's; 400/800 numbers in Chinese text are toll-free company lines."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.pii_checks import LazyPattern, resident_id_valid

_CJK = r"\u2e80-\u2fdf\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
WORD = rf"[^\W{_CJK}]"  # a word character that is not CJK: Latin letters, digits, "_", …
START = rf"(?<![.])(?<!{WORD})(?<!{WORD}-)"  # a number not glued to a longer token ("v2.13812…", "x-138…")
END = rf"(?!{WORD})(?!-{WORD})"
_CJK_CHAR = LazyPattern(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalise_width(text: str) -> str:
    """Full-width ASCII forms (０-９, Ａ-ｚ, ＋, －, （, ：, ＠ …) and the ideographic space as ASCII, one
    character for one, so an offset in the result is the same offset in `text`."""
    return text.translate(_WIDTH)


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def _label(pattern: str) -> LazyPattern:
    """`pattern` ending the text before a number, with the usual glue: "订单号：", "单号是 ", "order no."."""
    return LazyPattern(rf"(?:{pattern})\s*(?:[:：#]|是|为)?\s*[:：]?\s*[(\[【]?\s*$", re.IGNORECASE)


_REFERENCE = _label(
    r"(?:订单|工单|快递|物流)(?:编?号码?)?|(?:运|快递|物流|服务|售后|退款|交易|流水|商品|序列|批次)单?编?号码?"
    r"|单号|编号|发票(?:号码?|代码)|(?:验证|校验|动态|取件)码"
    r"|(?:顺丰|圆通|中通|申通|韵达|极兔|京东|邮政|德邦|百世)(?:快递|速运|物流)?(?:运?单号)?"
    r"|(?<![a-z])(?:EMS|order|tracking|invoice|ref(?:erence)?)(?:\s*(?:no\.?|number|#))?"
)
_HOTLINE = _label(r"(?:客服|服务|售后|投诉|咨询|官方|全国|免费)(?:电话|热线)|热线(?:电话)?|(?<![a-z])hotline")
_CARD = _label(
    r"(?:银行|[工农建中交招浦兴光民邮]行|储蓄|借记|信用|银联|工资|社保)卡(?:卡号|号码?)?"
    r"|(?<!会员)(?<!积分)(?<!礼品)(?<!购物)(?<!储值)卡号|(?:银行|收款|退款)?账号|帐号|账户"
)
_ID = _label(r"(?:居民)?身份证(?:号码?)?|证件号码?")


def _before(pattern: LazyPattern, text: str, start: int) -> bool:
    return pattern.search(text[max(0, start - 20) : start]) is not None


def reference_before(text: str, start: int) -> bool:
    """An order, tracking, invoice or verification label ends right before `start`."""
    return _before(_REFERENCE, text, start)


def card_label_before(text: str, start: int) -> bool:
    """A Chinese bank card or account label (银行卡号, 建行卡, 账号) ends right before `start`."""
    return _before(_CARD, text, start)


def company_line(text: str, start: int, digits: str) -> bool:
    """A hotline label before it, or a 400/800 toll-free number in Chinese text."""
    toll_free = len(digits) == 10 and digits[:3] in ("400", "800") and has_cjk(text)
    return toll_free or _before(_HOTLINE, text, start)


MOBILE = LazyPattern(
    rf"{START}(?:(?:\+|00)86[ -]?|\(\+?86\)[ -]?|86[ -]?)?1[3-9]\d(?:[ -]?\d{{4}}){{2}}{END}"
)
RESIDENT_ID = LazyPattern(
    rf"{START}[1-8]\d{{5}} ?(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:[012]\d|3[01]) ?\d{{3}}[\dX]{END}"
    rf"|{START}[1-8]\d{{14}}{END}",
    re.IGNORECASE,
)
MESSENGER = LazyPattern(
    r"(?<![a-z0-9_])QQ(?:号码?|账号)?\s*(?:[:：]|是|为)?\s*[:：]?\s*([1-9]\d{4,10})(?![\w.@])"
    r"|(?:微信号?|(?<![a-z0-9_])(?:vx|wx|wechat)(?:\s*id)?)\s*(?:[:：]|是|为)?\s*[:：]?\s*"
    r"([a-z][-\w]{5,19})(?![-\w.@])",
    re.IGNORECASE | re.ASCII,
)


def mobiles(text: str) -> Iterator[tuple[int, int]]:
    """Mainland mobile numbers that are no order or tracking number."""
    for match in MOBILE.finditer(text):
        if not reference_before(text, match.start()):
            yield match.span()


def resident_ids(text: str) -> Iterator[tuple[int, int]]:
    """18-character numbers that pass `resident_id_valid`; 15-digit ones only after a 身份证 label."""
    for match in RESIDENT_ID.finditer(text):
        compact = match.group().replace(" ", "")
        if len(compact) == 15 and not _before(_ID, text, match.start()):
            continue
        if resident_id_valid(compact) and not reference_before(text, match.start()):
            yield match.span()


def messenger_ids(text: str) -> Iterator[tuple[int, int]]:
    """A QQ number or WeChat id after its label ("QQ号：12345678", "微信 dana_2024", "加我微信danareyes");
    "QQ群" is no person."""
    for match in MESSENGER.finditer(text):
        if match.group(1):
            yield match.span(1)
            continue
        label = text[match.start() : match.start(2)]
        if match.group(2).isalpha() and label[-1].isspace() and not re.search("[:：是为号]", label):
            continue  # "on WeChat instead", "微信 thanks": a word, not an id
        yield match.span(2)


def _cjk_class(excluded: str) -> str:
    """A character class of the CJK unified ideographs without the characters in `excluded`."""
    ranges, low = [], 0x4E00
    for code in sorted({ord(char) for char in excluded}):
        if code > low:
            ranges.append((low, code - 1))
        low = code + 1
    ranges.append((low, 0x9FFF))
    return "[" + "".join(rf"\u{a:04x}-\u{b:04x}" if a < b else rf"\u{a:04x}" for a, b in ranges) + "]"


# Words around an address that are no part of a place name: "寄到北京市…", "地址是上海市…", "我在深圳…".
_STOP = "的是在到我你您他她它们了把给寄送往址为请帮改填写收货递与及或从"
# Level and number words: a name may start with one ("市中区"), not contain one, so a run of them parses
# one way only (no catastrophic backtracking on "市市市…").
_LEVEL = "省市区县镇乡旗盟路街巷号弄栋幢座室"
_NAME = f"{_cjk_class(_STOP)}{_cjk_class(_STOP + _LEVEL)}{{0,7}}"
# Each level is parsed one way only (atomic), so a run of level words cannot backtrack exponentially.
_ADMIN = rf"(?>{_NAME}(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|地区|盟|区|县|旗|镇|乡|街道)\s?)"
_ROAD = rf"{_NAME}(?:大道|大街|路|街|巷|胡同)(?:[一二三四五六七八九十\d]{{1,3}}段)?\s?"  # 北京西路一段
_PLACE = rf"{_NAME}(?:小区|花园|家园|公寓|大厦|广场|新村|村|社区|苑|园|城|中心)\s?"
_NUMBER = (
    r"[甲乙丙丁]?(?:\d{1,5}|[A-Za-z]|[一二三四五六七八九十百零〇两]{1,6})(?:-\d{1,5})?\s?"  # 乙12, A, 九十三
)
_ELEM = rf"{_NUMBER}(?:号院|号楼|号|弄|栋|幢|座|单元|楼|层|室|房|户)"
_BUILDING = rf"{_NUMBER}(?:号楼|栋|幢|座|单元|室)"
_ROOM = r"(?:(?<=[栋幢座元楼层])-?\d{2,4}(?!\d))?"
_NUMBERS = rf"{_ELEM}(?:\s?(?:{_PLACE})?{_ELEM}){{0,5}}{_ROOM}"
ADDRESS = LazyPattern(
    rf"(?:{_ADMIN}){{0,5}}(?:{_PLACE})?{_ROAD}{_NUMBERS}"  # a road and a number
    rf"|(?:{_ADMIN}){{2,5}}(?:{_PLACE})?{_NUMBERS}"  # two administrative levels and a number
    rf"|(?:{_ADMIN}){{0,5}}{_PLACE}(?:{_ELEM}\s?){{0,2}}{_BUILDING}(?:\s?{_ELEM}){{0,4}}{_ROOM}"  # estate
)


HAS_CJK = LazyPattern("[\u4e00-\u9fff]")


def addresses(text: str) -> Iterator[tuple[int, int]]:
    """Addresses with a road and a number ("北京市朝阳区建国路93号"), two administrative levels and a number
    ("上海市浦东新区张江镇孙桥村12号") or an estate and a building ("阳光花园3栋2单元301室"); a place alone
    ("我在上海买的", "上海市浦东新区") or a number alone ("3号线", "11月3号") is none."""
    if not HAS_CJK.search(text):  # every form needs a Chinese character: most log lines have none
        return
    for match in ADDRESS.finditer(text):
        yield match.span()
