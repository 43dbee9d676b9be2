"""The 核验码: 80 random bits, 16 Crockford base32 characters, grouped for reading aloud, and what a
person types normalised or refused."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from services.router.documents import codes


def test_a_code_is_16_characters_of_crockford_base32():
    for _ in range(200):
        code = codes.new_code()
        assert len(code) == codes.CODE_LENGTH == 16
        assert set(code) <= set(codes.ALPHABET)
        assert not set(code) & set("ILOU")
        assert codes.is_canonical(code)


def test_codes_carry_80_bits_spread_over_the_alphabet():
    assert codes.CODE_BITS >= 80
    assert codes.CODE_LENGTH * math.log2(len(codes.ALPHABET)) >= codes.CODE_BITS
    sample = [codes.new_code() for _ in range(2000)]
    assert len(set(sample)) == len(sample)
    # Every position takes every symbol about as often (2000 draws × 32 symbols: ~62 each); a
    # fixed or biased position (say, unpadded leading zeros) would show far fewer distinct symbols.
    for position in range(codes.CODE_LENGTH):
        counts = Counter(code[position] for code in sample)
        assert len(counts) == 32, position
        assert max(counts.values()) < 130, (position, counts.most_common(1))


def test_a_code_is_shown_in_four_groups_of_four():
    code = codes.new_code()
    grouped = codes.group(code)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", grouped)
    assert grouped.replace("-", "") == code


@pytest.mark.parametrize(
    "typed",
    [
        "7KQ4-M2XA-9HTR-C3VB",
        "7kq4m2xa9htrc3vb",
        " 7KQ4 M2XA 9HTR C3VB ",
        "7KQ4—M2XA—9HTR—C3VB",  # em dashes from a Chinese input method
        "７ＫＱ４－Ｍ２ＸＡ－９ＨＴＲ－Ｃ３ＶＢ",  # full-width
        "7KQ4\u3000M2XA\u30009HTR\u3000C3VB",  # ideographic spaces
        "7KQ4_M2XA_9HTR_C3VB",
    ],
)
def test_what_a_person_types_is_normalised(typed):
    assert codes.normalise(typed) == "7KQ4M2XA9HTRC3VB"


def test_letters_that_look_like_digits_read_as_the_digits():
    assert codes.normalise("O0I1-L1o0-il00-0000") == "0011110011000000"


@pytest.mark.parametrize(
    "typed, reason",
    [
        ("", "empty"),
        (" - - ", "empty"),
        ("7KQ4-M2XA-9HTR-C3V", "length"),
        ("7KQ4-M2XA-9HTR-C3VB-7", "length"),
        ("7KQ4-M2XA-9HTR-C3VU", "characters"),  # U is not in Crockford's alphabet
        ("7KQ4-M2XA-9HTR-C3V*", "characters"),
        ("核验码7KQ4M2XA9HTRC3", "characters"),
        ("../../etc/passwd", "characters"),
    ],
)
def test_malformed_codes_are_refused_with_a_reason_in_both_languages(typed, reason):
    with pytest.raises(codes.MalformedCode) as refused:
        codes.normalise(typed)
    assert refused.value.reason == reason
    assert refused.value.zh and refused.value.en
    assert isinstance(refused.value, ValueError)


def test_the_characters_refusal_names_the_wrong_ones():
    with pytest.raises(codes.MalformedCode) as refused:
        codes.normalise("7KQ4-M2XA-9HTR-C3V*")
    assert "*" in refused.value.zh and "*" in refused.value.en


def test_the_verification_url_carries_the_grouped_code():
    code = codes.new_code()
    url = codes.verification_url("https://xiaoer.example.cn/", code)
    assert url == f"https://xiaoer.example.cn/verify/{codes.group(code)}"
    assert codes.verification_url("https://xiaoer.example.cn", code.lower()) == url
    with pytest.raises(codes.MalformedCode):
        codes.verification_url("https://xiaoer.example.cn", "nope")
