"""Chinese numerals ↔ numbers, through cn2an: strict for clause numbers, smart for amounts.

A hand-written reader turned malformed numerals into wrong numbers (一二三 → 3, 十十 → 20,
二〇二四 → 4) and knew neither 万/亿 nor 点, so the verifier read 三点五亿元 as 5亿元. cn2an rejects
the malformed ones and reads the rest; the only gap left, a decimal before 万/亿 (三点五亿), is
bridged here by reading the decimal and the multiplier apart.
"""

from __future__ import annotations

import warnings
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import cn2an

# Digits as printed: 〇 and ○ are the zeros of dates (二〇二五年), 两 the 2 of amounts (两千万).
CN_DIGITS = "零〇○一二两三四五六七八九"
CN_NUMERAL_CHARS = CN_DIGITS + "十百千"
# Large-number multipliers that may follow a whole or decimal numeral (三百万, 三点五亿).
CN_MULTIPLIERS = {"万亿": 10**12, "亿": 10**8, "万": 10**4}
_ZEROS = str.maketrans({"〇": "零", "○": "零"})
_DATE_DIGITS = str.maketrans({ch: str(i) for i, ch in enumerate("零一二三四五六七八九")} | {"〇": "0", "○": "0"})


@lru_cache(maxsize=4096)  # clause numbers repeat in every document (一, 二, … 二十八); cn2an is not free
def cn_to_int(text: str) -> int:
    """A clause number, Arabic or a well-formed Chinese numeral (二十八, 一百零二), as an int.

    Raises:
        ValueError: the text is not a whole numeral, or a malformed one (一二三, 十十, 二〇二四).
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in CN_NUMERAL_CHARS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    value = _cn2an(text.translate(_ZEROS), "strict")
    if value != int(value):
        raise ValueError(f"not a whole number: {text!r}")
    return int(value)


def cn_amount(text: str) -> Decimal:
    """The value of an amount written in Chinese numerals: 三百万 → 3000000, 三点五亿 → 350000000.

    Raises:
        ValueError: the text is not a numeral cn2an can read in smart mode.
    """
    text = text.strip()
    for suffix, factor in CN_MULTIPLIERS.items():  # 万亿 before 亿 and 万
        head = text[: -len(suffix)]
        if text.endswith(suffix) and "点" in head and not any(m in head for m in CN_MULTIPLIERS):
            return cn_amount(head) * factor  # cn2an reads 三点五 and 三百万, not 三点五亿
    return _decimal(_cn2an(text, "smart"))


def date_digits(text: str) -> int:
    """A year written digit by digit (二〇二五, 2025) as an int.

    Raises:
        ValueError: not four digits.
    """
    digits = text.strip().translate(_DATE_DIGITS)
    if len(digits) != 4 or not digits.isdigit():
        raise ValueError(f"not a year: {text!r}")
    return int(digits)


def int_to_cn(n: int) -> str:
    """The Chinese numeral of a count as clause labels and answers print it (六, 十二, 二十八, 一百零二)."""
    return cn2an.an2cn(n) if n > 0 else str(n)


def _cn2an(text: str, mode: str) -> int | float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cn2an.cn2an(text, mode)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not a Chinese numeral cn2an reads ({mode}): {text!r}: {exc}") from None


def _decimal(value: int | float) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
