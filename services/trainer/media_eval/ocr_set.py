"""A seeded set of generated support-ticket screenshots for measuring OCR, in English and Simplified Chinese.

Each item is one "screen" (an error dialog, an invoice, an order status page, a login or form error, a log
excerpt, a chat message or a one-line banner) rendered with a system font, and its ground-truth text: the
lines top to bottom, the cells of a line left to right. "clean" items are lossless PNG screenshots;
"degraded" items are the same kinds of screen as a phone photo would give: rotated by up to ±3°, uneven
lighting, blur, Gaussian noise and low-quality JPEG. Texts are filled from templates with random order
numbers (ORD-48213), error codes (E-4012, 0x80070005), amounts, dates and names. Everything is deterministic
from the seed, given the same fonts (Debian: fonts-dejavu-core, fonts-liberation, fonts-noto-cjk or
fonts-wqy-microhei).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

LANGUAGES = ("en", "zh")
CONDITIONS = ("clean", "degraded")
DEFAULT_SEED = 20240611
DEFAULT_PER_CELL = 80  # 2 languages × 2 conditions × 80 = 320 images
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
EN_FONTS = (
    ("DejaVuSans.ttf", 0),
    ("DejaVuSerif.ttf", 0),
    ("LiberationSans-Regular.ttf", 0),
    ("LiberationSerif-Regular.ttf", 0),
    ("LiberationSansNarrow-Regular.ttf", 0),
)
EN_MONO = (("DejaVuSansMono.ttf", 0), ("LiberationMono-Regular.ttf", 0))
ZH_FONTS = (("NotoSansCJK-Regular.ttc", 2), ("NotoSerifCJK-Regular.ttc", 2), ("wqy-microhei.ttc", 0))
ZH_MONO = (("NotoSansCJK-Regular.ttc", 7), ("wqy-microhei.ttc", 1))
LIGHT = (((255, 255, 255), (20, 20, 20)), ((246, 247, 249), (40, 44, 52)), ((250, 250, 250), (85, 85, 85)))
DARK = (((30, 30, 30), (230, 230, 230)), ((40, 44, 52), (200, 205, 215)), ((18, 18, 24), (255, 255, 255)))

# Template text: "{slot}" is filled from `_slots`; "|" splits a line into a left and a right-aligned cell.
TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "title": (
            "Payment failed",
            "Something went wrong",
            "Unable to complete your order",
            "Error",
            "Sign in failed",
            "Update required",
            "Connection lost",
            "Your order has shipped",
        ),
        "body": (
            "We couldn't process your payment for order {order}.",
            "Error code: {code}",
            "Please try again or contact support.",
            "Your card was declined by the issuing bank.",
            "The operation failed with error {hex}: Access is denied.",
            "Reference: {ticket}",
            "Order {order} was placed on {date}.",
            "Tracking number: {track}",
            "Estimated delivery: {date}",
            "Your account is locked after {n} failed attempts.",
            "Try again in {n} minutes.",
            "Version {version} is required to continue.",
            "The server did not respond within 30 seconds.",
            "Contact {email} for help.",
            "Refund of ${amount} to card ending in {last4} is pending.",
            "Your subscription {product} expires on {date}.",
            "Request ID: {rid}",
        ),
        "buttons": ("Cancel|Retry", "OK", "Close|Contact support", "Back|Try again", "Dismiss"),
        "log": (
            "{date} 10:{mm}:{ss} ERROR payment.gateway code={code} order={order}",
            "TimeoutError: request to /api/v2/orders/{order} timed out after 30s",
            "{date} 09:{mm}:{ss} WARN retrying upload attempt={n} status=503",
            "HTTP 403 Forbidden: invalid token for user {user}",
            "Exit code {hex}",
            "at CheckoutService.submit (checkout.js:{n}:17)",
        ),
        "chat": (
            "Hi {name}, your refund for {order} is on its way.",
            "I was charged twice for {order}.",
            "The app shows error {code} when I pay.",
            "Can you check order {order} please?",
        ),
        "invoice": ("Invoice {inv}", "Date: {date}", "Bill to: {name} {surname}"),
        "product": (
            "Premium plan (annual)",
            "Extra storage 100 GB",
            "Priority support",
            "Team seats x{n}",
            "Wireless mouse",
            "USB-C charger 65W",
            "Shipping",
            "Gift card",
        ),
        "total": ("Subtotal|${amount}", "Tax (8%)|${amount}", "Discount|-${amount}", "Total|${amount}"),
        "banner": (
            "Order {order} - payment failed - error {code}",
            "Error {hex}: the file is in use",
            "Your package {track} is out for delivery",
            "Invoice {inv} is overdue by {n} days",
        ),
    },
    "zh": {
        "title": (
            "支付失败",
            "出错了",
            "无法完成下单",
            "登录失败",
            "需要更新",
            "网络连接已断开",
            "您的订单已发货",
        ),
        "body": (
            "订单号 {order} 支付失败 错误码 {code}",
            "错误码：{code}",
            "请稍后重试或联系客服。",
            "您的银行卡余额不足，请更换支付方式后重试。",
            "操作失败，错误代码 {hex}：拒绝访问。",
            "工单编号：{ticket}",
            "订单 {order} 于 {zdate} 下单。",
            "快递单号：{ztrack}",
            "预计送达时间：{zdate}",
            "密码错误次数过多，账户已锁定 {n} 分钟。",
            "请在 {n} 分钟后重试。",
            "需要升级到 {version} 版本才能继续使用。",
            "服务器在 30 秒内没有响应。",
            "退款 {amount} 元将退回尾号 {last4} 的银行卡。",
            "您的{zproduct}将于 {zdate} 到期。",
            "请求编号：{rid}",
        ),
        "buttons": ("取消|重试", "确定", "关闭|联系客服", "返回|重新支付", "我知道了"),
        "log": (
            "{date} 10:{mm}:{ss} 错误 支付网关 code={code} order={order}",
            "请求 /api/v2/orders 超时（30秒）",
            "{date} 09:{mm}:{ss} 警告 上传重试 第{n}次 状态=503",
            "用户 {user} 的令牌无效 HTTP 403",
            "程序退出代码 {hex}",
        ),
        "chat": (
            "{zname}您好，订单 {order} 的退款已处理。",
            "我的订单 {order} 被扣了两次款。",
            "付款时提示错误 {code}，怎么办？",
            "麻烦帮我查一下订单 {order}。",
        ),
        "invoice": ("发票号码 {inv}", "开票日期 {zdate}", "购买方：{zname}"),
        "product": (
            "高级会员（年付）",
            "扩容 100 GB",
            "优先客服支持",
            "团队席位 x{n}",
            "无线鼠标",
            "65W 充电器",
            "运费",
            "礼品卡",
        ),
        "total": ("小计|¥{amount}", "税额|¥{amount}", "优惠|-¥{amount}", "合计|¥{amount}"),
        "banner": (
            "订单号 {order} 支付失败 错误码 {code}",
            "错误 {hex}：文件正在使用中",
            "您的包裹 {ztrack} 正在派送",
            "发票 {inv} 已逾期 {n} 天",
        ),
    },
}
EN_NAMES = ("Alice", "Ben", "Carlos", "Dana", "Emma", "Farid", "Grace", "Hiro", "Ivan", "Julia")
EN_SURNAMES = ("Smith", "Garcia", "Chen", "Novak", "Okafor", "Larsen", "Patel", "Kim")
ZH_NAMES = ("王先生", "李女士", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏")
ZH_PRODUCTS = ("高级会员", "云存储套餐", "年度订阅", "企业版服务")
HEX_CODES = ("0x80070005", "0x8007000E", "0x80004005", "0xC0000005", "0x80072EE7", "0x800F081F")


@dataclass(frozen=True)
class OcrItem:
    item_id: str
    image: bytes  # PNG (clean) or JPEG (degraded)
    text: str  # ground truth: lines joined by "\n"
    language: str  # "en" | "zh"
    condition: str  # "clean" | "degraded"
    kind: str  # dialog, invoice, log, chat, banner


def _slots(rng: random.Random) -> dict[str, str]:
    day = f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
    return {
        "order": f"ORD-{rng.randint(10000, 99999)}",
        "code": f"E-{rng.randint(1000, 9999)}",
        "hex": rng.choice(HEX_CODES),
        "ticket": f"#{rng.randint(100000, 999999)}",
        "date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "zdate": f"2024年{day}",
        "track": "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16)),
        "ztrack": "SF" + "".join(rng.choice("0123456789") for _ in range(12)),
        "n": str(rng.randint(2, 45)),
        "mm": f"{rng.randint(0, 59):02d}",
        "ss": f"{rng.randint(0, 59):02d}",
        "version": f"{rng.randint(2, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "amount": f"{rng.randint(3, 1999)}.{rng.randint(0, 99):02d}",
        "last4": f"{rng.randint(0, 9999):04d}",
        "inv": f"INV-2024-{rng.randint(1, 99999):05d}",
        "rid": "".join(rng.choice("0123456789abcdef") for _ in range(12)),
        "name": rng.choice(EN_NAMES),
        "surname": rng.choice(EN_SURNAMES),
        "user": rng.choice(EN_NAMES).lower() + str(rng.randint(1, 99)),
        "email": f"support{rng.randint(1, 9)}@example.com",
        "zname": rng.choice(ZH_NAMES),
        "product": rng.choice(("Pro", "Business", "Family", "Premium")),
        "zproduct": rng.choice(ZH_PRODUCTS),
    }


def _fill(rng: random.Random, templates: tuple[str, ...], count: int) -> list[str]:
    return [t.format(**_slots(rng)) for t in rng.sample(templates, min(count, len(templates)))]


def screen_lines(rng: random.Random, language: str, kind: str) -> list[str]:
    """The lines of one screen of `kind`, each a cell or "left|right" cells."""
    texts = TEXTS[language]
    if kind == "dialog":
        body = _fill(rng, texts["body"], rng.randint(1, 3))
        return [*_fill(rng, texts["title"], 1), *body, rng.choice(texts["buttons"])]
    if kind == "invoice":
        money = "$" if language == "en" else "¥"
        items = [
            f"{p}|{money}{_slots(rng)['amount']}" for p in _fill(rng, texts["product"], rng.randint(1, 4))
        ]
        totals = [rng.choice(texts["total"][:3]), texts["total"][3]]
        return [
            *(t.format(**_slots(rng)) for t in texts["invoice"][: rng.randint(1, 3)]),
            *items,
            *(t.format(**_slots(rng)) for t in totals),
        ]
    if kind == "log":
        return _fill(rng, texts["log"], rng.randint(2, 4))
    if kind == "chat":
        return _fill(rng, texts["chat"], rng.randint(1, 2))
    return _fill(rng, texts["banner"], 1)


def font_path(name: str) -> Path | None:
    for root in FONT_DIRS:
        found = sorted(Path(root).rglob(name)) if Path(root).is_dir() else []
        if found:
            return found[0]
    return None


def available_fonts(language: str, mono: bool = False) -> list[tuple[Path, int]]:
    """The installed fonts the set uses for `language` (in a fixed order, so the seed decides)."""
    table = (EN_MONO if mono else EN_FONTS) if language == "en" else (ZH_MONO if mono else ZH_FONTS)
    fonts = [(path, index) for name, index in table if (path := font_path(name)) is not None]
    if not fonts:
        wanted = "fonts-dejavu-core" if language == "en" else "fonts-noto-cjk or fonts-wqy-microhei"
        raise FileNotFoundError(f"no font for {language!r} text: install {wanted}")
    return fonts


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("|")]


def ground_truth(lines: list[str]) -> str:
    return "\n".join(" ".join(_cells(line)) for line in lines)


def render_screen(
    lines: list[str], language: str, rng: random.Random, *, size: int, mono: bool
) -> Image.Image:
    """Draw `lines` like an app screen: a title bar sometimes, left cells at the margin, right cells
    right-aligned, the last line as buttons for a dialog."""
    path, index = rng.choice(available_fonts(language, mono))
    font = ImageFont.truetype(str(path), size, index=index)
    background, ink = rng.choice(DARK if rng.random() < 0.2 else LIGHT)
    margin, leading = rng.randint(16, 40), round(size * rng.uniform(1.5, 1.9))
    widths = [sum(font.getlength(c) for c in _cells(line)) + size * 3 for line in lines]
    width = int(max(max(widths) + 2 * margin, rng.randint(320, 720)))
    height = 2 * margin + leading * len(lines)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    title_bar = rng.random() < 0.4
    if title_bar:
        accent = rng.choice(((37, 99, 235), (220, 38, 38), (22, 163, 74), (55, 65, 81)))
        draw.rectangle((0, 0, width, margin + leading - size // 3), fill=accent)
    for row, line in enumerate(lines):
        y = margin + row * leading
        color = (255, 255, 255) if row == 0 and title_bar else ink
        cells = _cells(line)
        draw.text((margin, y), cells[0], font=font, fill=color)
        if len(cells) > 1:
            draw.text((width - margin - font.getlength(cells[1]), y), cells[1], font=font, fill=color)
    return image


def degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone photo of the screen: ±3° rotation, uneven lighting, blur, Gaussian noise."""
    pad = rng.randint(10, 30)
    canvas = Image.new("RGB", (image.width + 2 * pad, image.height + 2 * pad), (200, 200, 196))
    canvas.paste(image, (pad, pad))
    canvas = canvas.rotate(rng.uniform(-3, 3), resample=Image.BICUBIC, expand=True, fillcolor=(190, 190, 186))
    scale = rng.uniform(0.85, 1.05)
    canvas = canvas.resize((round(canvas.width * scale), round(canvas.height * scale)), Image.BILINEAR)
    pixels = np.asarray(canvas, dtype=np.float32)
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2  # 0..1 across the picture
    light = rng.uniform(0.6, 0.8) + rng.uniform(0.2, 0.35) * ramp
    pixels = pixels * light[..., None] + rng.uniform(-10, 15)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(4, 12), pixels.shape)
    canvas = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    return canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))


def _encode(image: Image.Image, condition: str, rng: random.Random) -> bytes:
    out = io.BytesIO()
    if condition == "clean":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=rng.randint(30, 60))
    return out.getvalue()


KINDS: tuple[tuple[str, float], ...] = (
    ("dialog", 0.35),
    ("invoice", 0.2),
    ("log", 0.15),
    ("chat", 0.15),
    ("banner", 0.15),
)


def make_item(seed: int, index: int, language: str, condition: str) -> OcrItem:
    """Item `index` of one language × condition cell; the same arguments always give the same bytes."""
    rng = random.Random(f"{seed}:{language}:{condition}:{index}")
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    lines = screen_lines(rng, language, kind)
    size = rng.randint(14, 28) if condition == "clean" else rng.randint(16, 30)
    image = render_screen(lines, language, rng, size=size, mono=kind == "log")
    if condition == "degraded":
        image = degrade(image, rng)
    data = _encode(image, condition, rng)
    return OcrItem(
        f"{language}-{condition}-{index:04d}", data, ground_truth(lines), language, condition, kind
    )


def render_text(text: str, language: str, *, size: int = 24, seed: int = 0) -> bytes:
    """One clean PNG line of `text` (for tests and smoke checks)."""
    rng = random.Random(seed)
    image = render_screen([text], language, rng, size=size, mono=False)
    return _encode(image, "clean", rng)


def iter_ocr_set(seed: int = DEFAULT_SEED, per_cell: int = DEFAULT_PER_CELL) -> Iterator[OcrItem]:
    """The set, interleaved (en clean, en degraded, zh clean, zh degraded, …) so any prefix is balanced."""
    for index in range(per_cell):
        for language in LANGUAGES:
            for condition in CONDITIONS:
                yield make_item(seed, index, language, condition)


def ocr_set(
    seed: int = DEFAULT_SEED,
    per_cell: int = DEFAULT_PER_CELL,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[OcrItem]:
    items: list[OcrItem] = []
    for item in iter_ocr_set(seed, per_cell):
        if limit is not None and len(items) >= limit:
            break
        items.append(item)
        if progress is not None:
            progress(1)
    return items
