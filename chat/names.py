"""One rule for the names of people and rooms: what a name may hold, and when two names are one.

A name is normalised by the PRECIS Nickname profile (RFC 8266, the precis-i18n package): NFKC
(full-width letters become ordinary ones), every kind of space becomes an ordinary space, runs of
spaces become one, and spaces at either end go. It is refused when it holds a control
character, an invisible one (default-ignorable: zero-width space, soft hyphen, word joiner, bidi
embeddings, overrides and isolates, byte order mark, variation selectors, tag characters, Hangul
fillers), a line or paragraph separator, a private-use or unassigned code point. On top of
PRECIS, every format character (Unicode category Cf, zero-width joiners included) and the
blank braille pattern are refused too: they render as nothing.

Two names are one name when their keys are equal: the normalised name, case-folded, NFKC again
("General", "general" and "ｇｅｎｅｒａｌ" are one room; "Taro" and "ＴＡＲＯ" one user).
"""

import re
import unicodedata
from functools import lru_cache

from precis_i18n import get_profile

NICKNAME = get_profile("NicknameCasePreserved")
BLANK = frozenset("\u2800")  # BRAILLE PATTERN BLANK: a symbol to Unicode, nothing on screen
# Printable ASCII with single spaces inside: already normalised (the common case, no PRECIS run).
PLAIN_ASCII = re.compile(r"[!-~]+(?: [!-~]+)*")
# precis-i18n's rules (its error's reason is "DISALLOWED/<rule>") that refuse what renders as nothing.
INVISIBLE_RULES = frozenset(
    {"precis_ignorable_properties", "zero_width_joiner", "zero_width_nonjoiner", "old_hangul_jamo"}
)


class NameRefused(ValueError):
    """A name the rule refuses; `reason`: empty, invisible, control or unusable; `char`: which."""

    def __init__(self, reason, char=None):
        super().__init__(reason)
        self.reason = reason
        self.char = char

    def describe(self, what):
        if self.reason == "empty":
            return f"{what} must not be empty."
        label = f"U+{ord(self.char):04X} {unicodedata.name(self.char, '')}".rstrip()
        why = {
            "invisible": "invisible and format characters are not allowed",
            "control": "control characters are not allowed",
        }.get(self.reason, "names cannot hold it")
        return f"{what} must not contain {label}: {why}."


@lru_cache(maxsize=4096)
def normalise(raw):
    """The name as it is stored and shown, or NameRefused."""
    if PLAIN_ASCII.fullmatch(raw):
        return raw
    try:
        name = NICKNAME.enforce(raw)
    except UnicodeEncodeError as exc:
        raise refusal(exc) from None
    for char in name:
        if char in BLANK or unicodedata.category(char) == "Cf":
            raise NameRefused("invisible", char)
    return name


def refusal(exc):
    """NameRefused for precis-i18n's error."""
    rule = exc.reason.rpartition("/")[2]
    if rule == "empty":
        return NameRefused("empty")
    char = exc.object[exc.start] if exc.start < len(exc.object) else None
    if rule == "controls":
        return NameRefused("control", char)
    if rule in INVISIBLE_RULES or (char is not None and unicodedata.category(char) == "Cf"):
        return NameRefused("invisible", char)
    return NameRefused("unusable", char)


def name_key(name):
    """The comparison key of a name (any string: a lookup by a name that breaks the rule finds
    nothing, it never fails)."""
    if name.isascii():
        return " ".join(name.split()).lower()
    spaced = " ".join(unicodedata.normalize("NFKC", name).split())
    return unicodedata.normalize("NFKC", spaced.casefold())


def checked_name(raw, limit):
    """The normalised name if it follows the rule and both it and its key fit in `limit`
    characters (the key is stored in a column of that size: "ß" folds to "ss");
    NameRefused("too_long") otherwise."""
    name = normalise(raw)
    if len(name) > limit or len(name_key(name)) > limit:
        raise NameRefused("too_long")
    return name
