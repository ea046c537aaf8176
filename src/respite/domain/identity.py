"""Identity matching: is this debtor record the same person as that one?

Each creditor spells its debtor its own way ("J. de Vries", "Jan de Vries", "Vries, Jan
de"), and exact duplicates already share a row (:func:`respite.services.store.identity_key`).
This module scores the rest: it normalises two records and adds up *points* per signal,
each with a reason a reviewer can read, then decides ``link``, ``review`` or ``none``
against :class:`Thresholds`.

Weights (points; the score is their sum clamped to 0-100) and why:

=============  =====================================================  =======
signal         agreement                                              points
=============  =====================================================  =======
name           same words (order, case, accents, titles, particles    +30
               ignored)
name           close: a typo in a long word, initials for given       +20
               names, an extra given name or a double surname
name           a word that does not match at all (another given       -15
               name, another surname)
birth_date     equal                                                  +30
birth_date     both present and different (day and month swapped:     -50
               -20, a likely typo)
address        same postcode and house number, same addition          +25
address        same postcode and house number, addition on one side   +20
address        same street and city (no postcode on one side)         +20
iban           equal                                                  +30
email          equal                                                  +30
phone          equal in E.164                                         +20
kind           consumer against business                              -40
generation     "jr." against "sr."                                    -30
=============  =====================================================  =======

* Names are the weakest evidence: thousands of people are called Jan de Vries. The best
  name is worth no more than one strong identifier, and **a name alone never links and
  never even reaches the review queue**: a second, independent signal (birth date,
  address, IBAN, e-mail or phone) is required whatever the thresholds say.
* A birth date, an IBAN and a personal e-mail address each point at one person; they are
  worth as much as a full name. Household members share an address, a landline, often an
  account and sometimes an e-mail address, so a phone number counts less and no single
  identifier with a name reaches the automatic threshold on its own (30 + 30 = 60 is a
  review); two agreeing identifiers with a name do (e.g. name + birth date + address = 85).
* Conflicting strong evidence pulls the score down and forbids an automatic link: two
  different birth dates are two people (a father and son of the same name at the same
  address, twins share a birth date but not a given name). A different IBAN, e-mail or
  phone is *not* a conflict: people have several.
* An automatic link also needs names that agree (same or close); strong identifiers with a
  different name (a partner paying from the joint account, a maiden name) go to review.

The default thresholds are ``auto_link=75`` and ``review=50``. Nothing here logs or puts a
personal value into a reason: the reasons say *which* signals agree, never the values, so
they can be stored and shown without copying personal data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler
from stdnum import iban as stdnum_iban

from respite.errors import ValidationError

__all__ = [
    "Decision",
    "HouseNumber",
    "Match",
    "Normalised",
    "Reason",
    "Record",
    "Thresholds",
    "compact_email",
    "compact_iban",
    "compact_postcode",
    "house_number",
    "name_tokens",
    "normalise",
    "phone_e164",
    "score",
]


class Decision(StrEnum):
    LINK = "link"
    REVIEW = "review"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score at or above ``auto_link`` links automatically; at or above ``review`` queues."""

    auto_link: int = 75
    review: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.auto_link <= 100:
            raise ValidationError(
                f"thresholds must satisfy 0 < review <= auto_link <= 100, got review="
                f"{self.review} and auto_link={self.auto_link}",
                field="thresholds",
            )


@dataclass(frozen=True, slots=True)
class Reason:
    """One signal's contribution to a score, in words a reviewer understands."""

    signal: str
    detail: str
    points: int

    def as_dict(self) -> dict[str, object]:
        return {"signal": self.signal, "detail": self.detail, "points": self.points}


@dataclass(frozen=True, slots=True)
class Match:
    score: int
    reasons: tuple[Reason, ...]
    decision: Decision


@dataclass(frozen=True, slots=True)
class Record:
    """A debtor record as a creditor sent it (the fields identity matching looks at)."""

    name: str
    birth_date: date | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str = "NL"
    iban: str | None = None
    email: str | None = None
    phone: str | None = None
    kind: str = "consumer"


@dataclass(frozen=True, slots=True)
class HouseNumber:
    """``Kerkstraat 12a`` -> number ``12``, addition ``A``."""

    number: str
    addition: str


@dataclass(frozen=True, slots=True)
class Normalised:
    """A record in comparable form; compute once per record, compare many times."""

    tokens: tuple[str, ...]  # name words without titles and particles (van, de, der, ...)
    compact_name: str  # all name words, particles included, without spaces
    generation: str  # "jr", "sr" or ""
    kind: str
    birth_date: date | None
    country: str
    postcode: str | None
    house: HouseNumber | None
    street: str | None  # street name, lowercase letters only, for records without postcode
    city: str | None
    iban: str | None
    email: str | None
    phone: str | None


# --- names ---------------------------------------------------------------------------

# Titles and forms of address in the agency's languages (NL, BE, PL, GB).
_TITLES = frozenset(
    [
        "dhr",
        "heer",
        "mevr",
        "mevrouw",
        "mw",
        "mej",
        "mejuffrouw",
        "hr",
        "fam",
        "familie",
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "sir",
        "dame",
        "dr",
        "drs",
        "ir",
        "ing",
        "prof",
        "msc",
        "bsc",
        "phd",
        "pan",
        "pani",
        "mgr",
        "inz",
        "mme",
        "mlle",
        "monsieur",
        "madame",
        "meneer",
    ]
)
# Dutch and Flemish tussenvoegsels, and the German / French / Italian particles seen in the
# Low Countries. They are dropped for comparison: "de Vries" and "Vries, de" agree.
_PARTICLES = frozenset(
    [
        "van",
        "de",
        "der",
        "den",
        "het",
        "t",
        "ter",
        "ten",
        "te",
        "in",
        "op",
        "aan",
        "onder",
        "over",
        "uit",
        "uijt",
        "vd",
        "da",
        "di",
        "del",
        "della",
        "des",
        "du",
        "la",
        "le",
        "les",
        "lo",
        "von",
        "vom",
        "zu",
        "zum",
        "zur",
    ]
)
_GENERATIONS = {"jr": "jr", "junior": "jr", "jun": "jr", "sr": "sr", "senior": "sr", "sen": "sr"}
_LEGAL_FORMS = frozenset(
    [
        "bv",
        "nv",
        "vof",
        "cv",
        "bvba",
        "srl",
        "sprl",
        "sa",
        "cvba",
        "vzw",
        "sp",
        "zoo",
        "spzoo",
        "sc",
        "ltd",
        "limited",
        "plc",
        "llc",
        "llp",
        "gmbh",
        "ag",
        "inc",
        "co",
        "corp",
        "holding",
    ]
)


def _fold(text: str) -> str:
    """Lowercase ASCII: accents dropped (NFKD), "ł" -> "l", "ß" -> "ss"."""
    text = text.replace("ł", "l").replace("Ł", "L").replace("ß", "ss").replace("ø", "o")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _name_words(name: str, kind: str) -> tuple[list[str], str]:
    folded = _fold(name)
    if kind == "business":
        # "B.V." and "N.V." are one word; for people dotted letters are initials.
        folded = re.sub(r"\b([a-z])\.([a-z])\.?(?=\s|$|,)", r"\1\2", folded)
    if folded.count(",") == 1:  # "Vries, Jan de" and "de Vries, J." -> given names first
        surname, given = folded.split(",")
        folded = f"{given} {surname}"
    words = re.sub(r"[^a-z0-9]+", " ", folded.replace("'t ", "t ")).split()
    generation = ""
    kept: list[str] = []
    for word in words:
        if word in _GENERATIONS:
            generation = _GENERATIONS[word]
        elif word in _TITLES or (kind == "business" and word in _LEGAL_FORMS):
            continue
        else:
            kept.append(word)
    return kept, generation


def name_tokens(name: str, kind: str = "consumer") -> tuple[str, ...]:
    """The words of a name that identify: folded, without titles and particles.

    >>> name_tokens("Dhr. J. van der Berg")
    ('j', 'berg')
    """
    words, _ = _name_words(name, kind)
    core = [w for w in words if w not in _PARTICLES]
    return tuple(core or words)


_SAME, _TYPO, _INITIAL, _DIFFERENT = 3, 2, 1, 0


def _word_match(a: str, b: str) -> int:
    if a == b:
        return _SAME
    if len(a) == 1 or len(b) == 1:
        return _INITIAL if a[0] == b[0] else _DIFFERENT
    # A typo only in a long word: "vreis" for "vries", not "jon" for "jan" or "anna" for
    # "hanna" - short names that differ by a letter are different names.
    if min(len(a), len(b)) >= 5 and OSA.distance(a, b) <= (1 if max(len(a), len(b)) < 9 else 2):
        return _TYPO
    return _DIFFERENT


def _name_reason(a: Normalised, b: Normalised) -> tuple[Reason, str]:
    """The name's reason and its category: same, close, different or weak."""
    ratio = round(fuzz.token_sort_ratio(" ".join(a.tokens), " ".join(b.tokens)))
    if a.compact_name == b.compact_name or sorted(a.tokens) == sorted(b.tokens):
        if len(a.tokens) < 2:
            return Reason("name", "same single-word name: too little to go on", 0), "weak"
        return Reason("name", "same name", 30), "same"
    short, long = (a.tokens, b.tokens) if len(a.tokens) <= len(b.tokens) else (b.tokens, a.tokens)
    pairs = sorted(
        (
            (
                _word_match(s, t),
                JaroWinkler.normalized_similarity(s, t),
                min(s, t),
                max(s, t),
                i,
                j,
            )
            for i, s in enumerate(short)
            for j, t in enumerate(long)
        ),
        reverse=True,
    )
    used_s: set[int] = set()
    used_l: set[int] = set()
    kinds: list[int] = []
    for kind, _sim, _lo, _hi, i, j in pairs:
        if i in used_s or j in used_l:
            continue
        used_s.add(i)
        used_l.add(j)
        kinds.append(kind)
    if _DIFFERENT in kinds:
        return (
            Reason("name", f"names differ in a word (similarity {ratio}%)", -15),
            "different",
        )
    if len(short) < 2:
        return Reason("name", "one name has a single word: too little to go on", 0), "weak"
    notes = []
    if _TYPO in kinds:
        notes.append("a spelling difference")
    if _INITIAL in kinds:
        notes.append("initials for given names")
    if len(long) > len(short):
        notes.append("extra names on one side")
    return (
        Reason("name", f"close names: {', '.join(notes)} (similarity {ratio}%)", 20),
        "close",
    )


# --- addresses -----------------------------------------------------------------------

_POSTCODE_FORMS = {
    "NL": (re.compile(r"(?:NL)?(\d{4})([A-Z]{2})"), "{0}{1}"),
    "BE": (re.compile(r"(?:BE|B)?(\d{4})"), "{0}"),
    "PL": (re.compile(r"(?:PL)?(\d{2})(\d{3})"), "{0}-{1}"),
    "GB": (re.compile(r"([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})"), "{0}{1}"),
}


def compact_postcode(postcode: str | None, country: str = "NL") -> str | None:
    """The postcode in one spelling per country: NL ``1234AB``, BE ``1000``, PL ``00-950``.

    >>> compact_postcode(" 1234 ab", "NL"), compact_postcode("B-1000", "BE")
    ('1234AB', '1000')
    """
    if postcode is None:
        return None
    raw = re.sub(r"[^A-Z0-9]", "", postcode.upper())
    if not raw:
        return None
    form = _POSTCODE_FORMS.get(country.upper())
    if form is not None:
        found = form[0].fullmatch(raw)
        if found is not None:
            return form[1].format(*found.groups())
    return raw


# A number at the end ("Kerkstraat 12a", "Rue Neuve 5 bus 3", "ul. Długa 5/12", "Dorp 7-II")
# or at the start ("12 High Street", "Flat 3, 12 High Street" has its number after "Flat 3,").
_TRAILING = re.compile(
    r"(?<![0-9])(\d{1,5})(?:\s*[-/]\s*|\s+(?:bus|bte|boite|box|m|lok|apt|app)\.?\s*|\s*)"
    r"([a-z0-9]{0,4}(?:\s+[a-z0-9]{1,4})?)\s*$"
)
_LEADING = re.compile(r"^(?:flat\s+\w+\s*,\s*)?(\d{1,5})\s*([a-z]?)\b")


def house_number(street: str | None) -> HouseNumber | None:
    """The house number and its addition from a street line, or None if there is none.

    >>> house_number("Kerkstraat 12a"), house_number("Kerkstraat 12 - A")
    (HouseNumber(number='12', addition='A'), HouseNumber(number='12', addition='A'))
    """
    if not street:
        return None
    text = _fold(street).strip()
    found = _TRAILING.search(text) or _LEADING.search(text)
    if found is None:
        return None
    number = found.group(1).lstrip("0") or "0"
    addition = re.sub(r"[^a-z0-9]", "", found.group(2)).upper()
    return HouseNumber(number, addition)


def _street_name(street: str | None) -> str | None:
    if not street:
        return None
    letters = re.sub(r"[^a-z]", "", _fold(street))
    return letters or None


# --- identifiers ---------------------------------------------------------------------


def compact_iban(value: str | None) -> str | None:
    """``nl91 abna 0417 1643 00`` -> ``NL91ABNA0417164300`` (no check: intake checks)."""
    if not value:
        return None
    return stdnum_iban.compact(value) or None


def compact_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return None
    return value.strip().lower()


# Calling codes and whether the national form starts with a trunk "0" (PL has none).
_CALLING = {
    "NL": ("31", True),
    "BE": ("32", True),
    "PL": ("48", False),
    "GB": ("44", True),
    "DE": ("49", True),
    "FR": ("33", True),
    "LU": ("352", False),
}
_CODES = sorted({code for code, _ in _CALLING.values()}, key=len, reverse=True)


def phone_e164(value: str | None, country: str = "NL") -> str | None:
    """A phone number in E.164 (``+31612345678``), reading national numbers in ``country``.

    Handles ``06-12345678``, ``+31 (0)6 1234 5678``, ``0031 6 ...``, ``+310612345678``
    and Polish nine-digit numbers; None when too short or too long to be a number.

    >>> phone_e164("06-1234 5678", "NL"), phone_e164("+31 (0)6 12345678", "BE")
    ('+31612345678', '+31612345678')
    """
    if not value:
        return None
    text = value.strip().replace("(0)", "")
    international = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        for code in _CODES:
            if digits.startswith(code):
                rest = digits[len(code) :]
                digits = code + (rest[1:] if rest.startswith("0") else rest)
                break
    else:
        code, trunk = _CALLING.get(country.upper(), ("", True))
        if trunk and digits.startswith("0"):
            digits = digits[1:]
        elif not code:
            return None  # a national number from a country we cannot place
        digits = code + digits
    if not 8 <= len(digits) <= 15:
        return None
    return f"+{digits}"


# --- scoring -------------------------------------------------------------------------


def normalise(record: Record) -> Normalised:
    words, generation = _name_words(record.name, record.kind)
    country = (record.country or "").upper()
    return Normalised(
        tokens=name_tokens(record.name, record.kind),
        compact_name="".join(words),
        generation=generation,
        kind=record.kind,
        birth_date=record.birth_date,
        country=country,
        postcode=compact_postcode(record.postcode, country),
        house=house_number(record.street),
        street=_street_name(record.street),
        city=_street_name(record.city),
        iban=compact_iban(record.iban),
        email=compact_email(record.email),
        phone=phone_e164(record.phone, country),
    )


def _birth_date_reason(a: date | None, b: date | None) -> Reason | None:
    if a is None or b is None:
        return None
    if a == b:
        return Reason("birth_date", "same date of birth", 30)
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return Reason("birth_date", "dates of birth differ: day and month swapped", -20)
    return Reason("birth_date", "different dates of birth", -50)


def _address_reason(a: Normalised, b: Normalised) -> Reason | None:
    if a.postcode and b.postcode:
        if a.postcode != b.postcode or a.country != b.country:
            return None
        if a.house is None or b.house is None or a.house.number != b.house.number:
            return Reason("address", "same postcode, another or no house number", 0)
        if a.house.addition == b.house.addition:
            return Reason("address", "same postcode and house number", 25)
        if not a.house.addition or not b.house.addition:
            return Reason(
                "address", "same postcode and house number, addition on one side only", 20
            )
        return Reason("address", "same building, another addition (another home)", 0)
    same_street = a.street and a.street == b.street and a.house is not None and a.house == b.house
    if same_street and a.city and a.city == b.city:
        return Reason("address", "same street, house number and city", 20)
    return None


def score(
    a: Record | Normalised, b: Record | Normalised, thresholds: Thresholds | None = None
) -> Match:
    """How likely two records are one person, why, and what to do about it.

    Symmetric: ``score(a, b) == score(b, a)``.
    """
    limits = thresholds or Thresholds()
    x = a if isinstance(a, Normalised) else normalise(a)
    y = b if isinstance(b, Normalised) else normalise(b)
    name, name_kind = _name_reason(x, y)
    reasons = [name]
    independent = 0  # agreeing signals other than the name
    conflict = False
    dob = _birth_date_reason(x.birth_date, y.birth_date)
    if dob is not None:
        reasons.append(dob)
        independent += dob.points > 0
        conflict |= dob.points < 0
    address = _address_reason(x, y)
    if address is not None:
        reasons.append(address)
        independent += address.points > 0
    for signal, left, right, points, detail in (
        ("iban", x.iban, y.iban, 30, "same IBAN"),
        ("email", x.email, y.email, 30, "same e-mail address"),
        ("phone", x.phone, y.phone, 20, "same phone number"),
    ):
        if left and left == right:
            reasons.append(Reason(signal, detail, points))
            independent += 1
    if x.kind != y.kind:
        reasons.append(Reason("kind", "one is a consumer, the other a business", -40))
        conflict = True
    if x.generation and y.generation and x.generation != y.generation:
        reasons.append(Reason("generation", "junior against senior", -30))
        conflict = True
    total = max(0, min(100, sum(r.points for r in reasons)))
    decision = Decision.NONE
    if independent == 0:
        reasons.append(
            Reason(
                "rule",
                "no signal besides the name (birth date, address, IBAN, e-mail, phone): "
                "a name alone never links",
                0,
            )
        )
    elif total >= limits.auto_link and name_kind in ("same", "close") and not conflict:
        decision = Decision.LINK
    elif total >= limits.review:
        decision = Decision.REVIEW
        if total >= limits.auto_link:
            why = "conflicting evidence" if conflict else "the names do not agree"
            reasons.append(Reason("rule", f"not linked automatically: {why}", 0))
    return Match(total, tuple(reasons), decision)
