"""Pure normalisation helpers for company names, domains, emails and phone numbers.

Nothing here touches a database or Slack. Everything is deterministic and safe
to call on hostile user input: functions either return a value or raise
:class:`crm.errors.InvalidInput` (only :func:`normalize_phone` raises).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from crm.errors import InvalidInput

__all__ = [
    "FREE_EMAIL_DOMAINS",
    "acronym",
    "extract_domain",
    "extract_emails",
    "is_free_email_domain",
    "is_valid_domain",
    "is_valid_email",
    "name_tokens",
    "normalize_name",
    "normalize_phone",
    "phonetic_key",
    "registrable_domain",
    "strip_control",
]

# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

# Letters that NFKD does not decompose into base + accent.
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "ss",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
        "ħ": "h",
        "&": " and ",
        "+": " and ",
        "＆": " and ",
        # Apostrophes join rather than split: "McDonald's" -> "mcdonalds", "Int'l" -> "intl".
        "'": "",
        "’": "",
        "‘": "",
        "`": "",
        "´": "",
    }
)

# Single tokens that are legal forms when they end (or, for a few, start) a name.
# Dotted forms such as "L.L.C." or "S.à r.l." are first collapsed to "llc" / "sa rl".
_LEGAL_SUFFIXES = frozenset(
    """
    inc incorporated corp corporation llc lllp llp lp ltd limited plc co company cos
    gmbh mbh ag kg kgaa ohg gbr ug ev
    sa sas sasu sarl sa rl eurl sca sc snc
    bv nv vof cv
    pty pte
    oy oyj ab as asa aps is
    spa srl sapa scarl
    kk gk yk
    sl sau slu ltda eireli
    se sro as zrt kft nyrt doo dd ad ood eood
    bhd sdn tbk
    """.split()
)

# Multi-token legal forms (after dot-collapsing), stripped from the end as a unit.
_LEGAL_SUFFIX_SEQUENCES: tuple[tuple[str, ...], ...] = (
    ("sa", "de", "cv"),
    ("s", "de", "rl"),
    ("s", "a"),
    ("s", "r", "l"),
    ("s", "a", "r", "l"),
    ("sa", "r", "l"),
    ("b", "v"),
    ("n", "v"),
    ("a", "s"),
    ("k", "k"),
    ("s", "p", "a"),
    ("l", "l", "c"),
    ("sdn", "bhd"),
)

# Legal forms that come first: Russian/Ukrainian OOO/AO/PAO, Indonesian PT, Malay.
_LEGAL_PREFIXES = frozenset(["ооо", "оао", "зао", "пао", "ао", "тов", "ooo", "pt", "cv"])

# CJK legal forms are written without spaces, so they are stripped as substrings.
_CJK_LEGAL = (
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "有限公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "(株)",
    "（株）",
    "㈱",
    "주식회사",
    "(주)",
    "㈜",
)

# Common abbreviations folded to one spelling so "Acme Intl" == "Acme International".
_ABBREVIATIONS = {
    # Only spellings that are not also the start of a common word, so typeahead
    # ("gen" for "Genentech") is not rewritten under the user's feet.
    "intl": "international",
    "natl": "national",
    "mfg": "manufacturing",
    "mgmt": "management",
    "svc": "services",
    "svcs": "services",
    "assoc": "associates",
    "assn": "association",
    "bros": "brothers",
    "grp": "group",
    "univ": "university",
    "ctr": "center",
    "centre": "center",
    "dept": "department",
    "hldgs": "holdings",
    "hldg": "holding",
    "engg": "engineering",
    "mktg": "marketing",
    "solns": "solutions",
    "distrib": "distribution",
    "inds": "industries",
    "techs": "technologies",
}

# A run of single letters each followed by a dot: "L.L.C.", "S.A.", "I.B.M", "K.K.".
_DOTTED = re.compile(r"(?<![^\W_])(?:[^\W\d_]\.){1,}[^\W\d_](?![^\W_])\.?")
_NON_WORD = re.compile(r"[\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def strip_control(s: str) -> str:
    """Replace control, zero-width and bidi-override characters with spaces."""
    return _CONTROL.sub(" ", s)


def _is_latin(ch: str) -> bool:
    cp = ord(ch)
    return cp < 0x250 or 0x1E00 <= cp <= 0x1EFF


def _fold_accents(s: str) -> str:
    """Remove combining marks that follow Latin letters; keep them on other scripts.

    Japanese dakuten or Devanagari vowel signs are meaningful, so only accents on
    Latin letters ("é", "ü", "à") are dropped.
    """
    out: list[str] = []
    prev_latin = False
    for ch in unicodedata.normalize("NFKD", s):
        if unicodedata.combining(ch):
            if prev_latin:
                continue
        else:
            prev_latin = _is_latin(ch)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xAC00 <= cp <= 0xD7AF  # Hangul syllables
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x2FA1F
    )


def _strip_cjk_legal(s: str) -> str:
    for form in _CJK_LEGAL:
        if s.startswith(form) and len(s) > len(form):
            s = s[len(form) :]
        if s.endswith(form) and len(s) > len(form):
            s = s[: -len(form)]
    return s.strip()


def _strip_legal(tokens: list[str]) -> list[str]:
    """Drop trailing legal forms (and a dangling "and") while keeping at least one token."""
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for seq in _LEGAL_SUFFIX_SEQUENCES:
            n = len(seq)
            if len(tokens) > n and tuple(tokens[-n:]) == seq:
                del tokens[-n:]
                changed = True
                break
        else:
            if tokens[-1] in _LEGAL_SUFFIXES:
                tokens.pop()
                changed = True
        # "Smith & Co." -> "smith and co" -> "smith and" -> "smith"
        if changed and len(tokens) > 1 and tokens[-1] == "and":
            tokens.pop()
    if len(tokens) > 1 and tokens[0] in _LEGAL_PREFIXES:
        del tokens[0]
    return tokens


def is_only_legal_form(normalized: str) -> bool:
    """True for a normalised name that is nothing but legal forms ("gmbh", "nv", "ltd co") or empty:
    not a name that tells companies apart."""
    tokens = normalized.split()
    return all(t in _LEGAL_SUFFIXES or t in _LEGAL_PREFIXES or len(t) == 1 for t in tokens)


def _is_legal_run(tokens: list[str]) -> bool:
    """True when ``tokens`` end in a legal form ("acme nv", "s a", "gmbh")."""
    if not tokens:
        return False
    if tokens[-1] in _LEGAL_SUFFIXES:
        return True
    return any(len(tokens) >= len(seq) and tuple(tokens[-len(seq) :]) == seq for seq in _LEGAL_SUFFIX_SEQUENCES)


def _unglue_legal(m: re.Match[str]) -> str:
    """ "industriesb.v." -> "industries b.v." when the dotted tail is a legal form."""
    tail = m.group(2)
    return f"{m.group(1)} {tail}" if tail.replace(".", "") in _LEGAL_SUFFIXES else m.group(0)


# A dotted legal form glued to the word before it, at the end or before a comma.
_GLUED_LEGAL = re.compile(r"([^\W\d_]{3,})((?:[^\W\d_]\.){2,4})(?=\s|,|$)")
# A dangling first letter of a legal form at the very end: "Gist-Brocades N." (from "N.V.").
_DANGLING_LEGAL = re.compile(r"[\s,]([nbsgl])\.\s*$")
# Words that put a place after a legal form: "DSM NV te Heerlen", "Acme GmbH in Berlin".
_LOCATIVES = frozenset(["te", "in", "at", "a", "en", "zu"])


def _segment_tokens(s: str) -> list[str]:
    """Tokens of the whole name, dropping what follows a legal form and a comma ("Unilever N.V., Rotterdam")."""
    segments = [[t for t in _NON_WORD.split(seg) if t] for seg in s.split(",")]
    segments = [seg for seg in segments if seg]
    for k, seg in enumerate(segments[:-1]):
        if k + 1 < len(segments) and _is_legal_run(seg) and all(len(x) <= 3 for x in segments[k + 1 :]):
            segments = segments[: k + 1]
            break
    tokens = [t for seg in segments for t in seg]
    for i in range(1, len(tokens) - 1):  # "... nv te heerlen": the legal form before a locative and a place
        if tokens[i] in _LEGAL_SUFFIXES and tokens[i + 1] in _LOCATIVES and len(tokens) - i <= 4:
            return tokens[: i + 1]
    return tokens


def _join_initials(tokens: list[str]) -> list[str]:
    """Runs of two or more single letters become one word: "d s m" -> "dsm"."""
    out: list[str] = []
    run: list[str] = []
    for t in [*tokens, ""]:
        if len(t) == 1 and t.isalpha():
            run.append(t)
            continue
        if len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if t:
            out.append(t)
    return out


def name_tokens(s: str) -> list[str]:
    """Tokens of :func:`normalize_name` (see there); empty only for an empty name."""
    if not s:
        return []
    s = strip_control(s)
    s = _fold_accents(s.translate(_FOLD)).casefold().translate(_FOLD)
    s = _strip_cjk_legal(s)
    dangling = _DANGLING_LEGAL.search(s)
    if dangling and len(_NON_WORD.sub("", s[: dangling.start()])) >= 3:
        s = s[: dangling.start()]
    s = _GLUED_LEGAL.sub(_unglue_legal, s)
    s = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), s)
    tokens = _segment_tokens(s)
    if not tokens:
        return []
    if len(tokens) > 1 and tokens[0] in ("the", "die", "der", "la", "le", "les", "el"):
        del tokens[0]
    tokens = _join_initials(_strip_legal(tokens))
    return [_ABBREVIATIONS.get(t, t) for t in tokens]


# Consonant classes of a phonetic key (Soundex's groups); vowels, h, w and y carry nothing.
_PHONETIC = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556", "aeiouyhw")


def phonetic_key(token: str) -> str:
    """A sound-alike key of one word: its consonant classes with repeats collapsed.

    "cyberdyne" and "cyberdine" share "2163535"... only the consonants count, so one
    wrong vowel ("globx" / "globex") or a doubled letter keeps the key. Digits and
    other scripts are kept as they are; "" for a word with no consonants.
    """
    coded = token.casefold().translate(_PHONETIC)
    out: list[str] = []
    for ch in coded:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def normalize_name(s: str) -> str:
    """Normalise a company (or person) name for comparison and duplicate detection.

    Casefolds, strips accents on Latin letters (NFKD), maps "&" and "+" to "and",
    drops a leading "The", drops legal forms from many countries ("Inc", "Co., Ltd.",
    "GmbH & Co. KG", "S.à r.l.", "Pty. Ltd.", "株式会社", ...), folds a few common
    abbreviations ("Intl" -> "international"), turns punctuation into spaces and
    collapses whitespace. Non-Latin scripts are kept.

    A name made only of such words keeps its last word: ``normalize_name("The
    Company") == "company"``. Returns "" only when ``s`` has no letters or digits.

    >>> normalize_name("The ACME Corp.") == normalize_name("Acme Corporation") == "acme"
    True
    """
    return " ".join(name_tokens(s))


def acronym(tokens: list[str]) -> str:
    """First letters of the tokens of a multi-word name ("" for one word).

    Short connecting words are skipped: "Bank of America" -> "ba" and "boa" both
    appear in practice, so callers should compare against both forms if needed.
    """
    if len(tokens) < 2:
        return ""
    return "".join(t[0] for t in tokens if t and t not in ("and", "of", "the"))


# ---------------------------------------------------------------------------
# Emails and domains
# ---------------------------------------------------------------------------

_LABEL = r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?)"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+(?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]{{1,59}})$", re.IGNORECASE)
_EMAIL_FIND = re.compile(
    rf"[a-z0-9!#$%&'*+/=?^_`{{|}}~.-]{{1,64}}@(?:{_LABEL}\.)+[^\W\d_]{{2,63}}(?![\w-])",
    re.IGNORECASE,
)
_EMAIL_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$", re.IGNORECASE)
_URL_FIND = re.compile(r"(?:https?://|www\.)[^\s<>\"'|]+", re.IGNORECASE)
_BARE_DOMAIN_FIND = re.compile(rf"(?<![\w@.-])(?:{_LABEL}\.)+[^\W\d_]{{2,63}}(?![\w@-])", re.IGNORECASE)

# Second-level labels under which registrations happen ("acme.co.uk", "acme.com.au").
_SECOND_LEVEL = frozenset(["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "nic", "ltd", "plc"])


def is_valid_domain(s: str) -> bool:
    """True for a syntactically valid host name with at least two labels and a letter TLD."""
    if not s or len(s) > 253 or s != s.strip():
        return False
    return bool(_DOMAIN_RE.match(s.rstrip(".")))


def is_valid_email(s: str) -> bool:
    """Pragmatic address check: ``local@domain.tld`` with no spaces or quoting."""
    if not s or len(s) > 254 or s.count("@") != 1:
        return False
    local, _, domain = s.partition("@")
    return len(local) <= 64 and bool(_EMAIL_LOCAL.match(local)) and is_valid_domain(domain)


def extract_emails(text: str) -> list[str]:
    """All valid email addresses in ``text``, lowercased, in order, without repeats."""
    found: list[str] = []
    for m in _EMAIL_FIND.finditer(text or ""):
        email = m.group(0).strip(".").lower()
        if is_valid_email(email) and email not in found:
            found.append(email)
    return found


def _clean_host(host: str) -> str | None:
    host = host.strip().strip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    return host if is_valid_domain(host) else None


def extract_domain(text: str) -> str | None:
    """The first domain in ``text``: from an email, a URL or a bare ``acme.com``.

    Lowercased, "www." removed, port and path dropped. Returns None if there is none.

    >>> extract_domain("Bob <bob@Acme.com>"), extract_domain("https://www.acme.co.uk/about")
    ('acme.com', 'acme.co.uk')
    """
    if not text:
        return None
    text = strip_control(text)[:2000]
    emails = extract_emails(text)
    if emails:
        return _clean_host(emails[0].rpartition("@")[2])
    for m in _URL_FIND.finditer(text):
        raw = m.group(0)
        if not raw.lower().startswith("http"):
            raw = "http://" + raw
        try:
            host = urlsplit(raw).hostname
        except ValueError:
            host = None
        if host and (clean := _clean_host(host)):
            return clean
    for m in _BARE_DOMAIN_FIND.finditer(text):
        if clean := _clean_host(m.group(0)):
            return clean
    return None


def registrable_domain(domain: str) -> str:
    """Strip subdomains: "mail.eu.acme.co.uk" -> "acme.co.uk", "mail.acme.com" -> "acme.com".

    Uses a short list of second-level labels instead of the full public suffix list.
    """
    labels = domain.lower().strip(".").split(".")
    if len(labels) <= 2:
        return ".".join(labels)
    keep = 3 if labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


FREE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    """
    gmail.com googlemail.com outlook.com outlook.de outlook.fr hotmail.com hotmail.co.uk
    hotmail.fr hotmail.de hotmail.it hotmail.es live.com live.co.uk live.fr live.de msn.com
    passport.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.co.jp yahoo.com.br ymail.com
    rocketmail.com aol.com aim.com icloud.com me.com mac.com proton.me protonmail.com
    protonmail.ch pm.me tutanota.com tutanota.de tuta.io tuta.com gmx.com gmx.net gmx.de
    gmx.at gmx.ch web.de t-online.de freenet.de posteo.de mailbox.org mail.com email.com
    zoho.com zohomail.com fastmail.com fastmail.fm hey.com hushmail.com yandex.ru yandex.com
    ya.ru mail.ru inbox.ru list.ru bk.ru rambler.ru qq.com 163.com 126.com yeah.net sina.com
    sina.cn sohu.com aliyun.com foxmail.com naver.com daum.net hanmail.net orange.fr
    wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it tiscali.it alice.it
    btinternet.com sky.com virginmedia.com ntlworld.com talktalk.net comcast.net verizon.net
    att.net sbcglobal.net bellsouth.net cox.net charter.net earthlink.net optonline.net
    rediffmail.com seznam.cz centrum.cz wp.pl o2.pl onet.pl interia.pl bigpond.com
    optusnet.com.au shaw.ca rogers.com sympatico.ca telus.net uol.com.br bol.com.br
    terra.com.br ig.com.br yopmail.com mailinator.com guerrillamail.com 10minutemail.com
    """.split()
)

# Providers that register the same brand under many country TLDs (yahoo.es, gmx.fr, ...).
_FREE_EMAIL_BRANDS = frozenset(["yahoo", "hotmail", "outlook", "live", "gmx", "aol", "ymail", "yandex", "proton"])


def is_free_email_domain(domain: str | None) -> bool:
    """True for consumer mail providers (gmail.com, yahoo.*, hotmail.*, gmx.*, web.de, ...).

    A customer must never be matched through such a domain.
    """
    if not domain:
        return False
    d = domain.strip().strip(".").lower()
    if d.startswith("www."):
        d = d[4:]
    if d in FREE_EMAIL_DOMAINS or registrable_domain(d) in FREE_EMAIL_DOMAINS:
        return True
    labels = registrable_domain(d).split(".")
    return labels[0] in _FREE_EMAIL_BRANDS


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------

# Country calling codes for the regions we are likely to see; trunk prefix "0" is
# dropped for all of them except Italy (where the 0 is part of the number).
_CALLING_CODES = {
    "US": "1", "CA": "1", "GB": "44", "UK": "44", "IE": "353", "DE": "49", "AT": "43",
    "CH": "41", "FR": "33", "BE": "32", "NL": "31", "LU": "352", "IT": "39", "ES": "34",
    "PT": "351", "SE": "46", "NO": "47", "DK": "45", "FI": "358", "PL": "48", "CZ": "420",
    "AU": "61", "NZ": "64", "JP": "81", "CN": "86", "HK": "852", "SG": "65", "IN": "91",
    "KR": "82", "BR": "55", "MX": "52", "ZA": "27", "IL": "972", "AE": "971", "RU": "7",
    "TR": "90",
}  # fmt: skip

_EXTENSION = re.compile(r"\s*(?:;\s*ext=|,|(?:ext|extn|extension|x|#)\.?\s*:?)\s*(\d{1,7})\s*$", re.IGNORECASE)
_PHONE_ALLOWED = re.compile(r"^\+?[\d\s().\-/]+$")


def normalize_phone(s: str, default_region: str | None = None) -> str:
    """Normalise a phone number to an E.164-like string: ``"+14155550100"`` or ``"+4930123456 x12"``.

    Keeps a leading "+" (and reads a leading "00" as "+"), drops spaces, dots,
    dashes, slashes, parentheses and a "(0)" after the country code, and moves an
    extension ("ext. 12", "x12", "#12") to a trailing ``" x12"``. Without a "+",
    ``default_region`` (ISO code such as "US" or "DE") supplies the country code
    and the national trunk "0" is dropped; without a region the digits are
    returned as they are. No external phone library is used, so numbers are not
    checked against numbering plans.

    Raises :class:`InvalidInput` (``field="phone"``) for letters, fewer than 6
    or more than 15 digits.
    """
    raw = strip_control(s or "").strip()
    if not raw:
        raise InvalidInput("Please enter a phone number.", field="phone")
    ext = ""
    m = _EXTENSION.search(raw)
    if m and re.search(r"\d", raw[: m.start()]):
        ext = m.group(1)
        raw = raw[: m.start()].strip()
    raw = raw.replace("(0)", "") if raw.startswith("+") or raw.startswith("00") else raw
    if not _PHONE_ALLOWED.match(raw):
        raise InvalidInput(
            f"“{s.strip()[:40]}” doesn’t look like a phone number: use digits, spaces and an optional leading +.",
            field="phone",
        )
    digits = re.sub(r"\D", "", raw)
    plus = raw.startswith("+")
    if not plus and digits.startswith("00"):
        digits, plus = digits[2:], True
    if not plus and default_region:
        code = _CALLING_CODES.get(default_region.upper())
        if code == "1" and len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if code:
            if code not in ("1", "39") and digits.startswith("0"):
                digits = digits[1:]
            digits, plus = code + digits, True
    if len(digits) < 6:
        raise InvalidInput("That phone number is too short: it needs at least 6 digits.", field="phone")
    if len(digits) > 15:
        raise InvalidInput("That phone number is too long: at most 15 digits.", field="phone")
    out = ("+" if plus else "") + digits
    return f"{out} x{ext}" if ext else out
