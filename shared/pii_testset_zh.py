"""The Chinese part of the generated PII test set: customer-service messages (快递, 退款, 发票, 账号 …) with
mainland mobile and landline numbers, resident identity numbers (valid MOD 11-2, 15-digit old ones after
their label), UnionPay and Chinese bank cards (a few older debit cards without a Luhn check digit, always
given as a bank card), addresses, QQ numbers / WeChat ids and e-mail addresses planted at known spans,
beside look-alikes that are not personal data: 11-digit order numbers starting with 1, long order and
payment numbers, SF/YT/JD/J&T and all-digit waybills, invoice codes, verification codes, dates, times,
amounts, hotlines and 400 numbers, QQ groups, store cards, a city or a road without a number, and the
product's own identifiers written straight after Chinese words. Seeded: the same seed, the same set."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from datetime import date, timedelta

from shared.pii_checks import luhn_valid, resident_id_check
from shared.pii_testset import PRODUCT_IDS, Example, _digits, _luhn_complete

Phrase = tuple[str, str, str]  # (words before, the item, words after)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\s|]+", text)


MOBILE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 145 147 150 151 152 153 155 156 157 158 159 166 170 171 173 "
    "175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 195 198 199"
)
AREA_CODES = _words("010 020 021 022 023 024 025 027 028 029 0755 0571 0512")
REGIONS = _words(
    "110101 110105 310115 310104 440305 440106 330106 320102 510107 420106 500103 610113 650102 620102 "
    "370102 410105 430104 210102 230103 350203 450103 530102 640104"
)
UNIONPAY_BINS = _words("622848:19 621700:19 622202:19 621483:16 622588:16 622262:19 621661:19 628288:16")
VISA_MC_BINS = _words("436742:16 427020:16 518710:16")  # Chinese banks' co-branded credit cards
CITIES = [
    (province, city, _words(districts))
    for province, city, districts in re.findall(
        r"(\S*?(?:省|自治区)|)(\S+?市):(\S+)",
        "广东省深圳市:南山区|福田区|宝安区 广东省广州市:天河区|越秀区|海珠区 "
        "浙江省杭州市:西湖区|余杭区|滨江区 江苏省苏州市:工业园区|姑苏区 "
        "四川省成都市:武侯区|锦江区|高新区 湖北省武汉市:洪山区|江汉区 "
        "山东省济南市:历下区|市中区 河北省石家庄市:长安区|裕华区 内蒙古自治区呼和浩特市:新城区 "
        "广西壮族自治区南宁市:青秀区 北京市:朝阳区|海淀区|东城区 上海市:浦东新区|黄浦区|徐汇区 "
        "天津市:和平区|南开区 重庆市:渝中区|江北区",
    )
]
ROADS = _words(
    "科技园路 建国路 中山路 人民路 解放路 南京东路 淮海中路 文三路 天府大道 长安街 中关村大街 "
    "深南大道 五四路 学院路 滨江大道 东风路"
)
ESTATES = _words("万科城 碧桂园 阳光花园 幸福小区 翠苑 华润城 金地名苑 保利家园 绿城公寓 锦绣新村")
VILLAGES = _words(
    "河南省周口市沈丘县城关镇东关村 浙江省金华市义乌市佛堂镇塘下村 四川省眉山市丹棱县丹棱镇梅湾村"
)
PINYIN = _words("zhangwei li.na wangfang88 liu_yang chenjie zhao.min sunli huang_lei")
MAIL_DOMAINS = _words("qq.com 163.com 126.com sina.com foxmail.com outlook.com")
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def _say(rng: random.Random, templates: str, item: str) -> Phrase:
    """One of the "|"-separated templates, "{}" standing for the item."""
    before, _, after = rng.choice(templates.split("|")).partition("{}")
    return before, item, after


def _full_width(rng: random.Random, text: str, rate: float = 0.05) -> str:
    return text.translate(_FULL) if rng.random() < rate else text


def _mobile(rng: random.Random) -> str:
    number = rng.choice(MOBILE_PREFIXES) + _digits(rng, 8)
    grouped = rng.choice(["", " ", "-"]).join((number[:3], number[3:7], number[7:]))
    prefix = rng.choice(["", "", "", "", "+86 ", "+86-", "+86", "0086 ", "86-", "(+86)"])
    return _full_width(rng, prefix + rng.choice([number, number, grouped]))


def _landline(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    local = str(rng.randint(2, 8)) + _digits(rng, 7 if len(area) == 3 else rng.choice([6, 7]))
    forms = (
        f"{area}-{local}",
        f"({area}){local}",
        f"{area} {local[:4]} {local[4:]}",
        f"+86 {area[1:]} {local}",
    )
    return rng.choice(forms)


def _phone(rng: random.Random) -> Phrase:
    abroad = rng.choice(
        (f"+852 {rng.choice('5679')}{_digits(rng, 3)} {_digits(rng, 4)}", f"+886 9{_digits(rng, 8)}")
    )
    number = _mobile(rng) if rng.random() < 0.78 else _landline(rng) if rng.random() < 0.9 else abroad
    templates = "我的手机号是{}|手机：{}|联系电话{}|有事请打{}|收件人电话 {}|{}是我的联系方式"
    return _say(rng, templates + "|我换号了，新号码{}|麻烦回电{}|联系人王先生{}|座机{}|电话（{}）", number)


def _resident_id(rng: random.Random, *, old: bool = False) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(59 * 365))
    region, sequence = rng.choice(REGIONS), _digits(rng, 3)
    if old:
        return f"{region}{born:%y%m%d}{sequence}"
    body = f"{region}{born:%Y%m%d}{sequence}"
    number = body + resident_id_check(body)
    if number.endswith("X") and rng.random() < 0.3:
        number = number[:-1] + "x"
    if rng.random() < 0.1:
        number = f"{number[:6]} {number[6:14]} {number[14:]}"
    return _full_width(rng, number, 0.03)


def _national_id(rng: random.Random) -> Phrase:
    if rng.random() < 0.05:  # issued before 1999: after its label only
        return _say(rng, "身份证号{}|老身份证号码：{}", _resident_id(rng, old=True))
    templates = "身份证号{}|身份证号码：{}|实名认证用的是{}|证件号 {}|{}是我的身份证|我的身份证是{}|张伟，{}"
    return _say(rng, templates, _resident_id(rng))


def _bank_card(rng: random.Random, *, luhn: bool = True) -> str:
    if luhn:
        bin_, length = rng.choice(UNIONPAY_BINS * 3 + VISA_MC_BINS).split(":")
        number = _luhn_complete(bin_ + _digits(rng, int(length) - len(bin_) - 1))
    else:  # older domestic debit cards: 19 digits, no Luhn check digit
        prefix = rng.choice(["95599", "9558", "622848", "621700"])
        candidates = iter(lambda: prefix + _digits(rng, 19 - len(prefix)), None)
        number = next(n for n in candidates if not luhn_valid(n))
    if rng.random() < 0.45:
        number = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return _full_width(rng, number, 0.03)


def _card(rng: random.Random) -> Phrase:
    if rng.random() < 0.06:
        return _say(rng, "退款请退到银行卡{}|卡号：{}|我的农行卡{}|储蓄卡{}", _bank_card(rng, luhn=False))
    templates = "退款请退到银行卡{}|卡号：{}|我的工行卡{}|信用卡{}被扣了两次|扣款的卡是{}|{}这张卡被重复扣款"
    return _say(rng, templates + "|银行账号 {}", _bank_card(rng))


def _address_text(rng: random.Random) -> str:
    province, city, districts = rng.choice(CITIES)
    district, road, estate = rng.choice(districts), rng.choice(ROADS), rng.choice(ESTATES)
    number, building, unit = rng.randint(1, 999), rng.randint(1, 30), rng.randint(1, 6)
    room = rng.randint(1, 33) * 100 + rng.randint(1, 6)
    forms = (
        f"{province}{city}{district}{road}{number}号{estate}{building}栋{room}室",
        f"{city}{district}{road}{number}号",
        f"{district}{road}{number}号{building}栋{unit}单元{room}",
        f"{city}{district}{road}{number}弄{building}号{room}室",
        f"{city}{district}{estate}{building}号楼{unit}单元{room}",
        f"{rng.choice(VILLAGES)}{number}号",
        f"{estate}{building}栋{unit}单元{room}室",
        f"{city} {district} {road}{number}号",
        f"{city}{district}{road}{_chinese_numeral(number)}号",
    )
    return _full_width(rng, rng.choice(forms))


def _chinese_numeral(number: int) -> str:
    """1–999 in Chinese numerals: 93 → 九十三, 105 → 一百零五."""
    digits, (hundreds, rest) = "零一二三四五六七八九", divmod(number, 100)
    tens, ones = divmod(rest, 10)
    out = f"{digits[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else digits[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (digits[ones] if ones else "")


def _address(rng: random.Random) -> Phrase:
    templates = "收货地址：{}|寄到{}|我住在{}|地址改成{}|麻烦送到{}|{}，收件人李女士|新地址{}"
    return _say(rng, templates, _address_text(rng))


def _messenger_id(rng: random.Random) -> Phrase:
    if rng.random() < 0.6:
        qq = str(rng.randint(1, 9)) + _digits(rng, rng.randint(4, 10))
        return _say(rng, "QQ：{}|QQ号{}|我的qq是{}|加我QQ {}", qq)
    wxid = "wxid_" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=10))
    named = rng.choice(PINYIN).replace(".", "_") + str(rng.randint(1970, 2010))
    return _say(rng, "微信号：{}|加我微信{}|vx: {}|微信是{}", rng.choice((wxid, named)))


def _email(rng: random.Random) -> Phrase:
    name = rng.choice([rng.choice(PINYIN), str(rng.randint(10_000, 3_999_999_999))])
    domain = "qq.com" if name.isdigit() else rng.choice(MAIL_DOMAINS)
    return _say(rng, "邮箱{}|发票发到我邮箱{}|{}是我的邮箱", f"{name}@{domain}")


GENERATORS_ZH: dict[str, Callable[[random.Random], Phrase]] = {
    "phone": _phone,
    "national_id": _national_id,
    "card": _card,
    "address": _address,
    "messenger_id": _messenger_id,
    "email": _email,
}


def _order_11(rng: random.Random) -> Phrase:
    """11 digits starting 13–19, as JD and many shop systems number orders: an order number, said so."""
    number = rng.choice(MOBILE_PREFIXES) + _digits(rng, 8)
    templates = "订单号{}还没发货|订单号：{}|我的订单{}一直显示待发货|单号是{}|订单编号 {}|工单号{}"
    return _say(rng, templates + "|退款单号（{}）|{}这单还没发货", number)  # the last reads as a phone


def _order_long(rng: random.Random) -> Phrase:
    """Taobao-style 18–19 digit order numbers, Pinduoduo's "date-15 digits"."""
    if rng.random() < 0.25:
        return _say(rng, "拼多多订单编号 {}|订单{}", f"{_digits(rng, 6)}-{_digits(rng, 15)}")
    number = str(rng.randint(1, 9)) + _digits(rng, rng.choice([17, 18]))
    return _say(rng, "订单号{}|淘宝订单{}申请退款|售后单号：{}|订单 {} 的发票|{}这笔订单", number)


def _waybill(rng: random.Random) -> Phrase:
    sf, yt, jt = f"SF1{_digits(rng, 12)}", f"YT{_digits(rng, 13)}", f"JT{_digits(rng, 13)}"
    jd = rng.choice((f"JDVA{_digits(rng, 11)}", f"JD{_digits(rng, 13)}"))
    templates = "快递单号{}|顺丰单号{}查不到|物流显示{}已签收|运单号：{}|{}这个单号一直没更新"
    return _say(rng, templates, rng.choice((sf, yt, jt, jd)))


def _waybill_digits(rng: random.Random) -> Phrase:
    """ZTO, STO, Yunda: 12–15 digits (a Yunda 43… one may pass Luhn)."""
    number = rng.choice(["773", "756", "78", "43", "31"]) + _digits(rng, rng.randint(10, 12))
    templates = "中通快递{}|韵达{}到哪了|快递{}三天没动了|申通快递单号 {}|物流单号{}"
    return _say(rng, templates + "|{}这个件到哪了", number)


def _invoice(rng: random.Random) -> Phrase:
    """Invoice codes (12 digits, often a leading 0, shaped like a landline), numbers, e-invoice numbers."""
    code, number, e_invoice = rng.choice("01") + _digits(rng, 11), _digits(rng, 8), "2" + _digits(rng, 19)
    say = rng.choice(
        ((code, "发票代码{}|发票代码：{}"), (number, "发票号码{}"), (e_invoice, "全电发票号码{}"))
    )
    return _say(rng, say[1], say[0])


def _payment_number(rng: random.Random) -> Phrase:
    day = f"{date(2026, 1, 1) + timedelta(days=rng.randrange(365)):%Y%m%d}"
    alipay, wechat = f"{day}2200{_digits(rng, 16)}", f"4200{_digits(rng, 6)}{day}{_digits(rng, 10)}"
    return rng.choice(
        (("支付宝交易号", alipay, ""), ("微信支付单号", wechat, ""), ("退款流水号 ", _digits(rng, 20), ""))
    )


def _day(rng: random.Random) -> date:
    return date(2024, 1, 1) + timedelta(days=rng.randrange(3 * 365))


def _date(rng: random.Random) -> Phrase:
    d = _day(rng)
    forms = (f"{d.year}年{d.month}月{d.day}日", f"{d.month}月{d.day}日", f"{d:%Y-%m-%d}", f"{d:%Y/%m/%d}")
    forms += (f"{d:%Y.%m.%d}", f"{d:%Y%m%d}", f"{d.month}月{d.day}号")
    return _say(rng, "{}下的单|预计{}送达|{}收到的货", rng.choice(forms))


def _time(rng: random.Random) -> Phrase:
    d, hour, minute = _day(rng), rng.randint(8, 23), rng.randint(0, 59)
    forms = (f"{d.year}年{d.month}月{d.day}日 {hour}:{minute:02d}", f"{d:%Y-%m-%d} {hour:02d}:{minute:02d}")
    forms += (f"{d.month}月{d.day}日下午{hour % 12 or 12}点", f"{hour}:{minute:02d}")
    return _say(rng, "{}付的款|快递员{}来过", rng.choice(forms))


def _amount(rng: random.Random) -> Phrase:
    yuan, cents = rng.randint(1, 99_999), _digits(rng, 2)
    forms = (f"¥{yuan:,}.{cents}", f"{yuan}元", f"￥{yuan}.{cents}", f"人民币{yuan:,}.{cents}元")
    forms += (f"{rng.randint(1, 9)}.{rng.randint(1, 9)}万元",)
    return _say(rng, "退款金额：{}|一共付了{}|{}还没退回来|发票金额{}", rng.choice(forms))


def _verification_code(rng: random.Random) -> Phrase:
    code = _digits(rng, rng.choice([4, 6, 6, 6]))
    return _say(rng, "验证码{}收不到|验证码是 {}|收到的动态码：{}|输入了{}但提示错误", code)


def _company_line(rng: random.Random) -> Phrase:
    """400/800 numbers, hotlines (a company's landline after its label), short service numbers."""
    free = f"{rng.choice(['400', '800'])}{_digits(rng, 7)}"
    free = rng.choice((free, f"{free[:3]}-{free[3:6]}-{free[6:]}", f"{free[:3]} {free[3:6]} {free[6:]}"))
    landline = f"{rng.choice(AREA_CODES)}-{rng.randint(2, 8)}{_digits(rng, 7)}"
    short = rng.choice(["95588", "10086", "12315"])
    # "打了<landline>没人接": a company's landline without its label reads as anyone's (a false positive)
    say = rng.choice(((free, "客服热线{}|打了{}没人接"), (landline, "客服电话{}|售后热线：{}|打了{}没人接")))
    return _say(rng, say[1], say[0]) if rng.random() < 0.85 else ("打", short, "投诉")


def _qq_group(rng: random.Random) -> Phrase:
    return _say(rng, "QQ群{}|加了售后群 {}", str(rng.randint(1, 9)) + _digits(rng, rng.randint(6, 9)))


def _store_card(rng: random.Random) -> Phrase:
    return _say(rng, "购物卡{}余额不对|礼品卡号{}|会员卡号{}", "9" + _digits(rng, 15))


def _place(rng: random.Random) -> Phrase:
    """A city, a district, a road or a metro line without a number: no address."""
    province, city, districts = rng.choice(CITIES)
    road = rng.choice(ROADS)
    forms = (city[:-1], city, f"{city}{districts[0]}", f"{road}店", road, f"{rng.randint(1, 16)}号线")
    forms += (province or city,)
    return _say(rng, "我在{}买的|从{}发货的|{}的仓库|坐{}过去", rng.choice(forms))


def _product_words(rng: random.Random) -> Phrase:
    phone = f"iPhone {rng.randint(11, 16)} Pro {rng.choice([128, 256, 512])}GB"
    model = f"XM-{rng.randint(2020, 2026)}-{rng.randint(1, 12):02d}"
    count, nth = f"{rng.randint(2, 12)}件", f"{rng.randint(2, 3)}件"
    phrases = (("买的是", phone, ""), ("型号", model, ""), ("买了", count, ""), ("第", nth, "半价"))
    return rng.choice((*phrases, ("", "双11", "买的")))


LOOK_ALIKES_ZH: dict[str, Callable[[random.Random], Phrase]] = {
    "order-11-digits": _order_11,
    "order-long": _order_long,
    "waybill-letters": _waybill,
    "waybill-digits": _waybill_digits,
    "invoice-number": _invoice,
    "payment-number": _payment_number,
    "date-zh": _date,
    "time-zh": _time,
    "amount-zh": _amount,
    "verification-code": _verification_code,
    "company-line": _company_line,
    "qq-group": _qq_group,
    "store-card": _store_card,
    "place-no-number": _place,
    "product-words": _product_words,
}
_ID_WORDS = _words("工单 模型版本 任务 日志时间 事件 记录")


def _product_id(kind: str) -> Callable[[random.Random], Phrase]:
    """The product's identifiers straight after a Chinese word, as Chinese log lines and notes have them."""
    return lambda rng: (rng.choice(_ID_WORDS), PRODUCT_IDS[kind](rng), rng.choice(["已处理", "", "失败"]))


NEGATIVES_ZH = LOOK_ALIKES_ZH | {kind: _product_id(kind) for kind in PRODUCT_IDS}
OPENINGS = ("您好", "你好", "客服你好", "麻烦问一下", "在吗", "")
CLOSINGS = ("谢谢", "麻烦尽快处理", "急！", "辛苦了", "")


def _message(rng: random.Random, pii_kinds: list[str], negative_count: int) -> Example:
    clauses = [(kind, GENERATORS_ZH[kind](rng), True) for kind in pii_kinds]
    for _ in range(negative_count):
        kind = rng.choice(sorted(NEGATIVES_ZH))
        clauses.append((kind, NEGATIVES_ZH[kind](rng), False))
    rng.shuffle(clauses)
    text, spans, negatives = rng.choice(OPENINGS), [], []
    for kind, (before, item, after), planted in clauses:
        text += ("，" if text else "") + before
        (spans if planted else negatives).append((kind, len(text), len(text) + len(item)))
        text += item + after
    closing = rng.choice(CLOSINGS)
    return Example(text + (f"，{closing}。" if closing else "。"), spans, negatives)


def generate_zh(count: int = 2000, *, seed: int = 17) -> list[Example]:
    """`count` messages: one or two planted items each (every kind in turn) among one or two look-alikes,
    and one message in ten with two look-alikes only."""
    rng = random.Random(seed)
    kinds = sorted(GENERATORS_ZH)
    examples, turn = [], 0
    for i in range(count):
        if i % 10 == 9:
            examples.append(_message(rng, [], 2))
            continue
        planted = 1 + (i % 3 == 0)
        pii_kinds = [kinds[(turn + j) % len(kinds)] for j in range(planted)]
        turn += planted
        examples.append(_message(rng, pii_kinds, rng.choice([1, 1, 2])))
    return examples
