"""Hypothesis strategies for hostile input (issue 18): the values a client can put on the wire.

Three families, so that a failure points at one area of the server:
- TYPES: wrong types (numbers, bools, null, NaN/inf floats, big ints, bytes, deeply nested
  lists and objects), non-object payloads, extra keys;
- TEXT: strings with NUL, lone surrogates, non-characters, C0/C1 controls, huge strings past
  the limits;
- NAMES: strings that look like another one: bidi overrides, zero-width characters, full-width
  and other NFKC look-alikes, confusable scripts, the `dm:` prefix.
"""

import math

from hypothesis import strategies as st

TYPES, TEXT, NAMES = "types", "text", "names"
FAMILIES = (TYPES, TEXT, NAMES)

# ---- characters ----

NUL = "\x00"
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udc80"]
NONCHARACTERS = ["\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]
C0_C1 = [chr(c) for c in (1, 7, 8, 9, 10, 11, 12, 13, 27, 31, 127, 0x80, 0x85, 0x9B, 0x9F)]
BIDI = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u180e"]
ODD_SPACES = ["\u00a0", "\u2028", "\u2029", "\u3000", "\u2003", "\u205f", "\u1680"]
COMBINING = ["\u0301", "\u0308", "\u0338", "\u20dd", "\u0489"]

TEXT_CHARS = [NUL, *LONE_SURROGATES, *NONCHARACTERS, *C0_C1]
NAME_CHARS = [*BIDI, *ZERO_WIDTH, *ODD_SPACES, *COMBINING]

# ---- strings ----

# Text without the TEXT family's characters (controls, surrogates, private use, unassigned): the
# "legitimate" values and the stuffing of the other families, so that a failure names its family.
BENIGN_CHARS = st.characters(exclude_categories=["Cc", "Cs", "Co", "Cn"])


def benign_text(min_size=0, max_size=12):
    return st.text(BENIGN_CHARS, min_size=min_size, max_size=max_size)


# Strings that break naive code: SQL LIKE and FTS5 syntax, format strings, markup, path tricks.
TRICKY = [
    "%",
    "_",
    "\\",
    "'",
    '"',
    "%s",
    "{0}",
    "<script>alert(1)</script>",
    "NEAR(a b)",
    "a OR b",
    "*",
    "^",
    "-",
    "../../etc/passwd",
    "C:\\x",
    "null",
    "undefined",
    "__proto__",
    "💩",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇯🇵",
    "مرحبا",
    "こんにちは",
    "한국어",
    "ℌ𝔢𝔩𝔩𝔬",
    "\u0130",
    "ß",
    "ǅ",
]


def full_width(s):
    """ASCII letters and digits as their full-width forms (NFKC folds them back)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in s)


def look_alikes(name):
    """Names that look like `name` (or fold into it) without being it."""
    cyrillic = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "b": "Ь"})
    return [
        name.upper(),
        name.title(),
        full_width(name),
        name.translate(cyrillic),
        f"{name}\u200b",
        f"\u200b{name}",
        f"\u202e{name[::-1]}",
        f"\u2066{name}\u2069",
        f" {name} ",
        f"{name}\u00a0",
        name[:1] + "\u0301" + name[1:],
        "\ufeff" + name,
        name.replace("l", "ⅼ").replace("i", "і"),
    ]


def dm_like():
    """Names that are, or look like, a direct conversation's `dm:<id>:<id>`."""
    return st.sampled_from(
        [
            "dm:1:2",
            "dm:2:3",
            "dm:1:1",
            "DM:1:2",
            "ｄｍ:1:2",
            "dm\u200b:1:2",
            "dm：1：2",
            "dm:",
            "dm::",
            "dm:a:b",
            "dm:-1:2",
            "dm:1:2:3",
            "dm:99999999999999999999999:1",
            "dm:1:" + "9" * 40,
            " dm:1:2",
        ]
    )


def huge(limit):
    """Strings just past `limit` characters, and far past it (astral and combining piles too)."""
    return st.sampled_from(
        [
            "x" * (limit + 1),
            "x" * (limit * 3 + 7),
            "😀" * (limit + 1),
            "e" + "\u0301" * limit,
            "\x00" * (limit + 1),
            " " * (limit + 1),
            "a" * 100_000,
        ]
    )


def text_with(chars, base=benign_text()):
    """A string with some of `chars` put into an ordinary one."""
    pieces = st.lists(st.one_of(st.sampled_from(chars), base), min_size=1, max_size=6)
    return pieces.map("".join)


def hostile_text(family, limit=4000, near=()):
    """Strings of one family; `near` are legitimate values look-alikes are made of."""
    if family == TEXT:
        return st.one_of(
            st.sampled_from(TEXT_CHARS),
            text_with(TEXT_CHARS),
            huge(limit),
            st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn"]), min_size=1, max_size=8),
            st.sampled_from([f"{n}{c}" for n in near for c in (NUL, "\ud800", "\uffff", "\x1b")] or [NUL]),
        )
    if family == NAMES:
        alikes = [a for n in near for a in look_alikes(n)]
        return st.one_of(
            st.sampled_from(NAME_CHARS),
            text_with(NAME_CHARS),
            dm_like(),
            st.sampled_from(TRICKY),
            st.sampled_from(alikes or TRICKY),
            st.text(st.characters(categories=["Cf", "Zs", "Zl", "Zp", "Mn", "Me", "So"]), min_size=1, max_size=8),
            benign_text(min_size=1, max_size=20).map(full_width),
        )
    return wrong_type()


# ---- other values ----


BIG_INTS = [2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -1, 0]
ODD_FLOATS = [math.nan, math.inf, -math.inf, 0.5, -0.0, 1e308, 5e-324, 1.0, 2.0**63]


def nested(depth):
    """A list (or object) nested `depth` levels deep."""
    value = []
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def json_leaves():
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(BIG_INTS),
        st.sampled_from(ODD_FLOATS),
        st.floats(),
        benign_text(max_size=8),
        st.binary(max_size=16),
    )


def wrong_type():
    """Anything but a reasonable string: numbers, bools, null, NaN/inf, big ints, bytes, nests."""
    containers = st.recursive(
        json_leaves(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(benign_text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    )
    return st.one_of(json_leaves(), containers, st.sampled_from([nested(50), nested(400), [[]] * 1000, {}, []]))


def field(good, family, limit=4000, near=()):
    """A payload field: a legitimate value, or a hostile one of the family."""
    bad = hostile_text(family, limit, near) if family != TYPES else wrong_type()
    return st.one_of(good, bad, bad)


JUNK_KEYS = st.dictionaries(
    st.sampled_from(["__proto__", "constructor", "", "\x00", "room ", "Room", "id\u200b", "x" * 300]),
    st.one_of(st.none(), st.integers(), benign_text(max_size=4)),
    max_size=2,
)


def payload(fields, family):
    """An event payload: an object with any subset of `fields` (and junk keys), or, for the types
    family, sometimes no object at all."""
    obj = st.builds(lambda req, extra: {**extra, **req}, st.fixed_dictionaries({}, optional=fields), JUNK_KEYS)
    if family != TYPES:
        return obj.map(lambda v: (v,))
    not_an_object = wrong_type().filter(lambda v: not isinstance(v, dict))
    return st.one_of(
        obj.map(lambda v: (v,)),
        obj.map(lambda v: (v,)),
        obj.map(lambda v: (v,)),
        not_an_object.map(lambda v: (v,)),
        st.just(()),  # no argument at all
        st.tuples(obj, wrong_type()),  # extra arguments
    )


def wire_bytes(value):
    """A string as a hostile client puts it in a URL or form: UTF-8, lone surrogates included
    (as the invalid bytes a browser never sends but a script can)."""
    return value.encode("utf-8", "surrogatepass")


# ---- canonical cases: one value of each hostile kind, so that every run covers each of them ----


def canonical_text(limit):
    """One string of each TEXT kind (a field's limit decides the huge ones)."""
    return [
        "a\x00b",
        "\x00",
        "a\ud800b",
        "\udfff",
        "a\uffffb",
        "\U0010ffff",
        "\ufdd0",
        "a\x1bb",
        "a\x85b",
        "\x7f",
        "a\r\nb",
        "x" * (limit + 1),
        "\x00" * (limit + 1),
        "\u3000",
        "\u200b",
    ]


def canonical_names(near):
    """One string of each NAMES kind, made from the legitimate `near` (a room or user name)."""
    return [
        *look_alikes(near),
        "dm:2:4",
        "DM:2:4",
        "ｄｍ:2:4",
        "dm\u200b:2:4",
        "dm:1:2",
        "dm:4:2",
        "dm:",
        "\u2066x\u2069",
        "x\u034f",
        "ℌ𝔢𝔩𝔩𝔬",
        "ǅ",
        "\u0130",
    ]


CANONICAL_TYPES = [
    None,
    True,
    -1,
    1.5,
    math.nan,
    math.inf,
    2**31,
    2**63 - 1,
    2**63,
    2**64,
    "",
    [],
    {"room": "lobby"},
    nested(400),
    b"bytes",
]
CANONICAL_PAYLOADS = [None, "lobby", ["lobby"], nested(400), b"\x00"]
