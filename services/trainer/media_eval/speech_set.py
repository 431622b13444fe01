"""A seeded set of voicemail-like utterances spoken by Debian's `espeak-ng` (apt install espeak-ng), for the
speech-to-text eval: English (`en-us` with a few voice variants) and Mandarin, support content (order numbers
read digit by digit, refunds, deliveries, logins), 3–15 s each, speed and pitch varied a little.

Conditions, in turn: `clean` (espeak's own 22.05 kHz 16-bit WAV, silence around it), `noisy` (16 kHz, hum and
broadband noise at 10–20 dB SNR) and `phone` (band-limited to 300–3400 Hz, 8 kHz G.711 µ-law WAV: what a
phone system's voicemail box writes).

Mandarin uses the `cmn-latn-pinyin` voice: in espeak-ng 1.51 (Debian 13) the plain `cmn` voice reads most
characters as their pinyin spelled out in English ("ni three hao three"), which nobody could transcribe;
`cmn-latn-pinyin` is the same Mandarin language and speaks the characters as Mandarin.
"""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import wave
from dataclasses import dataclass

import numpy as np

from shared.media.speech import decode_audio, resample

ESPEAK = "espeak-ng"
EN_VOICES = ("en-us", "en-us+m3", "en-us+f3", "en-us+f2")
ZH_VOICES = ("cmn-latn-pinyin", "cmn-latn-pinyin+f3")
CONDITIONS = ("clean", "noisy", "phone")
MIN_SECONDS, MAX_SECONDS = 3.0, 15.0

EN_TEMPLATES = (
    "Hi, this is {name}. I'm calling about order number {order}. It was supposed to arrive on {day}, "
    "but I still haven't received it.",
    "Hello, my name is {name} and I was charged twice for order {order}. I would like a refund, please.",
    "Hi, I can't log in to my account. I reset my password {count} times but I never get the email.",
    "Good morning, the {product} I ordered arrived damaged. The order number is {order}.",
    "This is {name}. I want to cancel my subscription before the next billing date on {day}. Thank you.",
    "Hi, the tracking page says my package was delivered yesterday, but there is nothing at my door.",
    "Hello, I returned the {product} two weeks ago and I still haven't seen the refund on my card.",
    "Hi, I'm locked out of my account after too many login attempts. Please call me back at {phone}.",
    "Hey, I'd like to change the delivery address for order {order}. I moved to {city} last week.",
    "Hello, your app keeps crashing when I try to pay. I tried {count} times this morning.",
    "Hi, this is {name}. We need an invoice for order {order}, please send it to our accounts team.",
    "Hi, I received the wrong size. I ordered a medium {product} but I got a large one.",
    "Hello, the security code never arrives on my phone, so I can't sign in to my account.",
    "Hi, my discount code did not work at checkout and I paid the full price of {amount} dollars.",
    "Hello, I was promised a refund of {amount} dollars {count} days ago and nothing has arrived yet.",
    "Hi, it's {name} again. Nobody has answered my email about order {order}. Please call me back.",
)
ZH_TEMPLATES = (
    "你好，我是{name}，我的订单号是{order}，快递一直没有送到，麻烦帮我查一下。",
    "你好，我的订单{order}被重复扣款了，请尽快帮我退款。",
    "我登录不了账号，密码重置了{count}次，还是收不到验证码。",
    "我收到的{product}是坏的，订单号是{order}，能不能给我换一个新的？",
    "你好，我想取消会员的自动续费，下个月不要再扣钱了，谢谢。",
    "物流显示已经签收了，但是我根本没有收到包裹，订单号是{order}。",
    "我两个星期前就把{product}退回去了，到现在还没有收到退款。",
    "我的账号被锁住了，请尽快帮我解锁，我的电话是{phone}。",
    "请把订单{order}的收货地址改到{city}，我上个星期搬家了。",
    "你们的应用付款的时候一直闪退，我今天已经试了{count}次了。",
    "我买的是中号的{product}，结果收到的是大号，订单号是{order}。",
    "优惠券在结算的时候用不了，我付了全款{amount}元。",
    "你好，我是{name}，我们需要订单{order}的发票，请发到我们的邮箱。",
    "快递员说包裹放在门口了，可是我回家没有看到，能帮我联系一下吗？",
    "你好，客服说{count}天内退款，可是到现在还没有到账，请帮我看一下。",
    "我是{name}，上次的问题还没有解决，订单号是{order}，请给我回个电话。",
)
EN_FILL = {
    "name": ("Maria Lopez", "John Smith", "David Brown", "Sarah Miller", "James Wilson", "Emily Davis"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"),
    "count": ("two", "three", "four", "five", "six"),
    "product": ("coffee machine", "laptop bag", "jacket", "phone case", "desk lamp", "pair of shoes"),
    "city": ("Chicago", "Boston", "Denver", "Seattle", "Dallas", "Atlanta"),
    "amount": ("twenty", "forty five", "sixty", "ninety nine", "thirty"),
}
ZH_FILL = {
    "name": ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"),
    "count": ("两", "三", "四", "五"),
    "product": ("咖啡机", "电脑包", "外套", "手机壳", "台灯", "运动鞋"),
    "city": ("北京", "上海", "广州", "深圳", "杭州", "成都"),
    "amount": ("九十九", "一百二十", "六十", "三百"),
}


@dataclass(frozen=True)
class SpeechItem:
    id: str
    language: str  # "en" | "zh"
    text: str  # the reference: what espeak-ng was asked to say
    condition: str  # one of CONDITIONS
    wav: bytes
    duration_s: float
    voice: str
    speed: int  # words per minute
    pitch: int  # 0-99, espeak's default 50


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


def speak(text: str, voice: str, speed: int = 165, pitch: int = 50) -> tuple[np.ndarray, int]:
    """espeak-ng's samples (float32 in [-1, 1]) and sample rate for `text`."""
    wav = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return decode_audio(wav), 16_000


def pcm16_wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def mulaw_wav(samples: np.ndarray, rate: int) -> bytes:
    """G.711 µ-law WAV (format tag 7), as telephone voicemail systems write it."""
    pcm = np.clip(samples, -1, 1) * 32767
    magnitude = np.minimum(np.abs(pcm).astype(np.int32), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    codes = ~((np.where(pcm < 0, 0x80, 0) | (exponent << 4) | mantissa).astype(np.uint8))
    data = codes.astype(np.uint8).tobytes()
    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body) + (len(data) & 1)) + body + b"\0" * (len(data) & 1)


def _noise(rng: np.random.Generator, count: int, rate: int) -> np.ndarray:
    """Broadband noise with some low rumble and a mains hum."""
    white = rng.standard_normal(count)
    brown = np.cumsum(rng.standard_normal(count))
    brown = (brown - np.convolve(brown, np.ones(400) / 400, mode="same")) / 20
    t = np.arange(count) / rate
    hum = sum(np.sin(2 * np.pi * 60 * k * t + rng.uniform(0, 6)) / k for k in (1, 2, 3))
    return (white + brown + 0.5 * hum).astype(np.float32)


def _at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    gain = np.sqrt(np.mean(speech**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return (speech + gain * noise).astype(np.float32)


def _bandpass(samples: np.ndarray, rate: int, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(samples)
    frequencies = np.fft.rfftfreq(samples.size, 1 / rate)
    spectrum[(frequencies < low) | (frequencies > high)] = 0
    return np.fft.irfft(spectrum, samples.size).astype(np.float32)


def render(samples: np.ndarray, rate: int, condition: str, rng: np.random.Generator) -> bytes:
    """The WAV file for one condition, from 16 kHz samples with silence around them."""
    pad = [np.zeros(int(rng.uniform(0.3, 1.0) * rate), np.float32) for _ in range(2)]
    audio = (
        np.concatenate([pad[0], samples, pad[1]]) * rng.uniform(0.5, 0.9) / max(np.abs(samples).max(), 1e-6)
    )
    if condition == "clean":
        return pcm16_wav(resample(audio, rate, 22_050), 22_050)
    if condition == "noisy":
        return pcm16_wav(_at_snr(audio, _noise(rng, audio.size, rate), rng.uniform(10, 20)), rate)
    phone = _bandpass(_at_snr(audio, _noise(rng, audio.size, rate), rng.uniform(25, 30)), rate, 300, 3400)
    return mulaw_wav(resample(phone, rate, 8_000), 8_000)


def _digits(rng: random.Random, count: int) -> str:
    digits = [str(rng.randint(1 if i == 0 else 0, 9)) for i in range(count)]
    return " ".join(digits)  # spaced: read digit by digit, as callers read order numbers out


def utterance(rng: random.Random, language: str) -> str:
    templates, fill = (EN_TEMPLATES, EN_FILL) if language == "en" else (ZH_TEMPLATES, ZH_FILL)
    values = {key: rng.choice(options) for key, options in fill.items()}
    values["order"] = _digits(rng, rng.choice((6, 7, 8)))
    values["phone"] = _digits(rng, 10 if language == "en" else 11)
    return rng.choice(templates).format(**values)


def _item(rng: random.Random, language: str, index: int) -> SpeechItem:
    voices = EN_VOICES if language == "en" else ZH_VOICES
    condition = CONDITIONS[index % len(CONDITIONS)]
    noise_rng = np.random.default_rng(rng.getrandbits(32))
    while True:
        text, voice = utterance(rng, language), rng.choice(voices)
        speed, pitch = rng.randint(150, 180), rng.randint(40, 60)
        samples, rate = speak(text, voice, speed, pitch)
        wav = render(samples, rate, condition, noise_rng)
        duration = decode_audio(wav).size / 16_000
        if MIN_SECONDS <= duration <= MAX_SECONDS:
            return SpeechItem(
                f"{language}-{index:03d}", language, text, condition, wav, duration, voice, speed, pitch
            )


def speech_set(
    per_language: int = 60, seed: int = 20_240_601, languages: tuple[str, ...] = ("en", "zh")
) -> list[SpeechItem]:
    """`per_language` items for each language, the same for the same seed and espeak-ng version."""
    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed (apt install espeak-ng)")
    items = []
    for language in languages:  # a stream per language: the first n items are the same for any per_language
        rng = random.Random(f"{seed}-{language}")
        items += [_item(rng, language, i) for i in range(per_language)]
    return items
