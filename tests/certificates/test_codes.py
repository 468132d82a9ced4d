"""Verification codes: unguessable, and every single typo or neighbour swap is caught."""

from __future__ import annotations

from lantai.certificates.codes import ALPHABET, CODE_LENGTH, display, is_valid, new_code, normalise


def test_new_codes_are_valid_distinct_and_use_the_alphabet() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for c in list(codes)[:200]:
        assert len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) and is_valid(c)


def test_every_single_substitution_and_adjacent_swap_is_rejected() -> None:
    code = new_code()
    for i in range(CODE_LENGTH):
        for ch in ALPHABET:
            if ch != code[i]:
                assert not is_valid(code[:i] + ch + code[i + 1 :]), (code, i, ch)
    for i in range(CODE_LENGTH - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not is_valid(swapped), (code, i)


def test_input_is_normalised_for_people() -> None:
    code = new_code()
    typed = display(code).lower().replace("1", "l").replace("0", "o")
    assert display(code).count("-") == 3
    assert normalise(f" {typed} ") == code and is_valid(normalise(typed))
    assert not is_valid(code[:-1]) and not is_valid(code + "0") and not is_valid("U" * 16)
