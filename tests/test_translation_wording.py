"""Wording mistakes found once in the catalogs, kept from coming back (issue 13, item 14)."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def catalog(language):
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def translations(language):
    for message in catalog(language):
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            yield (message.id if isinstance(message.id, str) else message.id[0]), strings


@pytest.mark.parametrize("language, wrong, why", [
    ("ar", "العامل الاجتماعي", "the social worker is الأخصائي الاجتماعي everywhere"),
    ("ar", "عامل اجتماعي", "the social worker is أخصائي اجتماعي everywhere"),
    ("ar", "جواز سفر", "a device's passport is بطاقة تعريف الجهاز, not a travel passport"),
    ("uk", "Подарував", "an institution hands devices over: Хто передав"),
    ("fr", "voyez", "vérifiez"),
    ("fr", "est faite", "est confirmée"),
])
def test_words_that_were_wrong_are_gone(language, wrong, why):
    found = [key for key, strings in translations(language) if any(re.search(rf"(?<!\w){wrong}", s) for s in strings)]
    assert not found, f"{why}: {found}"


def test_ukrainian_says_erased_for_a_persons_data():
    found = [key for key, strings in translations("uk")
             if any("видалено" in s and re.search(r"[Дд]ані", s) for s in strings)]
    assert not found, found


def test_french_uses_typographic_apostrophes():
    found = [key for key, strings in translations("fr") if any(re.search(r"\w'\w", s) for s in strings)]
    assert not found, found


def test_arabic_singular_and_dual_say_the_number_in_the_word():
    """Arabic forms for one and two ("عرض واحد", "عرضان") do not repeat the figure ("2 عرضان"),
    nor add it in brackets; the zero form says "none" in words."""
    ar = catalog("ar")
    problems = []
    for message in ar:
        if isinstance(message.id, tuple) and "%(num)d" in message.id[1]:
            for form in (0, 1, 2):
                if "%(num)d" in message.string[form]:
                    problems.append(f"{message.id[0]!r} form {form}: {message.string[form]!r}")
    assert not problems, "\n".join(problems)
