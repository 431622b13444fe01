"""Check digits and registries behind the PII detectors: Luhn (payment cards), mod-97 with the SWIFT
registry's length per country (IBANs), and ISO 7064 MOD 11-2 with a province code and a birth date
(the 18-digit mainland Chinese resident identity number, 居民身份证号; the 15-digit pre-1999 form has a
birth date but no check digit). `shared/pii.py` and `shared/pii_zh.py` use them, and `LazyPattern` for their
expressions; nothing here searches text."""

from __future__ import annotations

import re
from datetime import date
from typing import Any


class LazyPattern:
    """A regular expression compiled at its first use, not at import: the detectors' expressions (CJK
    character classes with holes, ~0.15 s to compile in all) cost nothing to a process that imports
    `shared.pii` and never searches (most `helploop` commands), and the rest pay them once, at the first
    search."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:  # search, finditer, match, split, pattern, …
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(*self._args)
        return getattr(compiled, name)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# IBAN length by country (SWIFT IBAN registry): "de15…" in a 24-character hex digest is no German IBAN (22)
_IBAN_REGISTRY = """
AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28
EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 IE22 IL23 IQ23 IS26
IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28
NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25
SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30
"""
IBAN_LENGTHS = {country: int(length) for country, length in re.findall(r"([A-Z]{2})(\d\d)", _IBAN_REGISTRY)}
# Countries that use IBANs outside the registry (West and Central Africa, Algeria, Iran, …): any length
# of 15–34. Other letter pairs are not IBANs: "SF1311234567890" is an SF Express waybill, "JT…" J&T's.
_IBAN_ELSEWHERE = "AO BF BJ CF CG CI CM CV DZ GA GQ GW IR KM MA MG ML MZ NE SN TD TG"
IBAN_COUNTRIES = set(IBAN_LENGTHS) | set(re.findall(r"[A-Z]{2}", _IBAN_ELSEWHERE))


def iban_valid(text: str) -> bool:
    """Mod-97 and the country's registered length (15–34 characters for a country not in the registry)."""
    compact = re.sub(r"\s", "", text).upper()
    if len(compact) != IBAN_LENGTHS.get(compact[:2], len(compact)) or not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# First two digits of a resident identity number: the province-level division (GB/T 2260), and 81/82/83
# for the residence permits of Hong Kong, Macao and Taiwan residents.
_PROVINCES = "11-15 21-23 31-37 41-46 50-54 61-65 71 81-83"
ID_PROVINCES = frozenset(
    str(code)
    for low, high in re.findall(r"(\d\d)(?:-(\d\d))?", _PROVINCES)
    for code in range(int(low), int(high or low) + 1)
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_check(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ("0"–"9" or "X") of the first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _birth_date_valid(yyyymmdd: str, today: date | None = None) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= (today or date.today())


def resident_id_valid(text: str) -> bool:
    """An 18-character number (spaces ignored, "x" as "X") with a province code, a real birth date and the
    MOD 11-2 check character; or a 15-digit one (born 19yy) with a province code and a real birth date."""
    number = re.sub(r"\s", "", text).upper()
    if number[:2] not in ID_PROVINCES:
        return False
    if len(number) == 18 and number[:17].isdigit():
        return _birth_date_valid(number[6:14]) and resident_id_check(number[:17]) == number[17]
    return len(number) == 15 and number.isdigit() and _birth_date_valid("19" + number[6:12])
