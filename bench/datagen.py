"""Deterministic generator of realistic customers for benchmarks.

``make_customer(i, seed)`` returns the same customer every time, so a benchmark
can stream a million of them into an index without keeping them in memory and
regenerate any one later to build a query. Names mix invented brand words,
surnames, places and industries, legal suffixes from several countries and some
non-ASCII spellings, so there are plenty of near-duplicates ("Nordic Timber Oy"
vs "Nordic Timber Group") as in a real CRM.

    python bench/datagen.py 5          # print five customers
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

PREFIXES = """Acme Apex Summit Pinnacle Blue Red Green Silver Golden Iron Oak Maple Cedar Pine Willow
Northern Southern Eastern Western Pacific Atlantic Nordic Alpine Coastal Metro Urban Prime Vertex
Nova Stellar Quantum Fusion Vector Horizon Evergreen Crystal Bright Sun Moon Star River Lake Harbor
Bridge Keystone Cornerstone Liberty Heritage Pioneer Frontier Titan Atlas Orion Phoenix Falcon Eagle
Lion Bear Wolf Fox Hawk Global United National International Royal Imperial First Premier Elite
Smart Rapid Swift Clear True Pure Bold Core Next Open Fair Grand Great Little Old New""".split()

INDUSTRIES = """Analytics Logistics Foods Bakery Brewing Consulting Software Systems Solutions Technologies
Networks Robotics Energy Solar Power Pharma Therapeutics Biotech Medical Dental Health Insurance
Capital Partners Holdings Ventures Investments Finance Bank Realty Properties Construction Builders
Engineering Manufacturing Industries Materials Chemicals Plastics Steel Metals Mining Textiles
Apparel Fashion Design Media Studios Records Publishing Marketing Advertising Travel Airlines Shipping
Freight Transport Motors Automotive Aerospace Marine Farms Dairy Organics Coffee Tea Wines Spirits
Hotels Resorts Restaurants Catering Retail Stores Supply Trading Imports Exports Electronics Devices
Labs Research Education Learning Security Telecom Cloud Data Services Staffing Recruiting Legal
Accounting Architecture Landscaping Plumbing Electric Roofing Cleaning Printing Packaging""".split()

GROUPS = ["Group", "Partners", "Holdings", "Associates", "Company", "Collective", "Works", "& Co", "Brothers"]

SUFFIXES = [
    ("Inc.", 10), ("LLC", 10), ("Ltd", 8), ("Ltd.", 4), ("Limited", 4), ("Corp.", 4), ("Corporation", 3),
    ("GmbH", 6), ("AG", 3), ("GmbH & Co. KG", 2), ("S.A.", 4), ("SAS", 2), ("SARL", 1), ("S.à r.l.", 1),
    ("B.V.", 3), ("N.V.", 1), ("Pty Ltd", 2), ("PLC", 2), ("Co., Ltd.", 2), ("Oy", 1), ("AB", 2), ("AS", 1),
    ("A/S", 1), ("S.p.A.", 1), ("S.r.l.", 2), ("K.K.", 1), ("Pte. Ltd.", 1), ("", 25),
]  # fmt: skip

SURNAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker
Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips
Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey
Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Wolf Schröder
Dubois Lefèvre Moreau Laurent Girard Bonnet Rousseau Fontaine Chevalier Rossi Russo Ferrari Esposito
Bianchi Romano Colombo Ricci Nakamura Tanaka Watanabe Suzuki Sato Kobayashi Kim Park Chen Wang Li Zhang
Liu Singh Patel Sharma Gupta Kumar Nowak Kowalski Wiśniewski Novák Svoboda Jensen Nielsen Hansen Andersen
Johansson Karlsson Nilsson Eriksson Virtanen Korhonen Øberg Ångström Çelik Yılmaz Kaya Demir Şahin
Ivanov Smirnov Popov Papadopoulos O'Brien O'Connor MacDonald Fitzgerald Sánchez Pérez Gómez Díaz Núñez""".split()

FIRST_NAMES = """James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Betty Mark Sandra
Paul Ashley Steven Emily Andrew Donna Joshua Michelle Kevin Carol Brian Amanda George Melissa Anna
Lukas Leonie Jürgen Sophie Élodie François Chloé Giulia Marco Hiroshi Yuki Min-jun Wei Priya Arjun
Olga Dmitri Ingrid Sven Søren Zoë Renée José María Björn Łukasz Agnieszka Mehmet Ayşe Fatima Omar""".split()

PLACES = """Boston Denver Austin Seattle Chicago Dallas Phoenix Portland Atlanta Miami London Manchester
Leeds Bristol Dublin Berlin Munich Hamburg Köln Zürich Genève Wien Paris Lyon Marseille Milano Torino
Madrid Sevilla Lisboa Porto Amsterdam Rotterdam Antwerpen Bruxelles København Stockholm Göteborg Oslo
Helsinki Kraków Praha Tokyo Osaka Seoul Singapore Sydney Melbourne Auckland Toronto Montréal Vancouver
São Paulo""".split()

TLDS = [
    ("com", 55), ("io", 6), ("net", 5), ("co", 3), ("de", 8), ("co.uk", 6), ("fr", 4), ("nl", 2),
    ("ch", 1), ("it", 2), ("es", 2), ("se", 1), ("com.au", 2), ("co.jp", 1), ("ca", 2),
]  # fmt: skip

FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "gmx.de", "web.de"]

NON_LATIN = [
    "株式会社{}",
    "{}有限公司",
    "ООО «{}»",
    "{} 주식회사",
]
NON_LATIN_WORDS = {
    "株式会社{}": ["東芝", "日立", "三菱商事", "丸紅", "伊藤忠", "富士通", "京セラ", "トヨタ自動車", "任天堂"],
    "{}有限公司": ["华为技术", "腾讯科技", "阿里巴巴", "小米科技", "比亚迪", "联想集团", "海尔电器", "美的集团"],
    "ООО «{}»": ["Ромашка", "Вектор", "Альфа", "Сибирь", "Восток", "Северсталь", "Технопром", "Стройинвест"],
    "{} 주식회사": ["삼성전자", "현대자동차", "엘지화학", "네이버", "카카오", "포스코", "한화", "롯데"],
}

_SYLLABLES_A = "b c d f g k l m n p r s t v z br cr dr fl gr kl pr st tr ch sh th qu".split()
_SYLLABLES_V = "a e i o u a e o ia io ea ou".split()
_SYLLABLES_END = "n x r s l m nt rk ra ta na va ex ix on is".split()


@dataclass
class Customer:
    """A generated customer, in the shape ``CustomerIndex.add`` takes."""

    customer_id: int
    name: str
    aliases: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    contact_names: list[str] = field(default_factory=list)
    contact_emails: list[str] = field(default_factory=list)

    def as_kwargs(self) -> dict:
        return {
            "name": self.name,
            "aliases": self.aliases,
            "domains": self.domains,
            "contact_names": self.contact_names,
            "contact_emails": self.contact_emails,
        }


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _brand(rng: random.Random) -> str:
    """An invented brand word such as "Zentrix" or "Kloravia"."""
    parts = [rng.choice(_SYLLABLES_A) + rng.choice(_SYLLABLES_V) for _ in range(rng.randint(1, 2))]
    return ("".join(parts) + rng.choice(_SYLLABLES_END)).capitalize()


def _ascii_slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("ı", "i").replace("ł", "l").replace("&", "and")
    return re.sub(r"[^a-z0-9]+", "", text)


def _base_name(rng: random.Random) -> tuple[str, str, bool]:
    """(name without legal suffix, slug for its domain, whether a Latin suffix fits)."""
    pattern = rng.random()
    if pattern < 0.30:
        words = [rng.choice(PREFIXES), rng.choice(INDUSTRIES)]
    elif pattern < 0.50:
        words = [_brand(rng)] + ([rng.choice(INDUSTRIES)] if rng.random() < 0.6 else [])
    elif pattern < 0.62:
        words = [rng.choice(SURNAMES), "&", rng.choice(SURNAMES)]
    elif pattern < 0.75:
        words = [rng.choice(SURNAMES), rng.choice(INDUSTRIES)]
    elif pattern < 0.85:
        words = [rng.choice(PLACES), rng.choice(INDUSTRIES), rng.choice(GROUPS)]
    elif pattern < 0.97:
        words = [rng.choice(PREFIXES), _brand(rng), rng.choice(INDUSTRIES)]
    else:
        template = rng.choice(NON_LATIN)
        word = rng.choice(NON_LATIN_WORDS[template])
        return template.format(word), _brand(rng).lower(), False
    name = " ".join(words)
    return name, _ascii_slug("".join(w for w in words if w != "&")), True


def make_customer(i: int, seed: int = 42) -> Customer:
    """Customer number ``i`` (id ``i + 1``): the same for the same ``(i, seed)``."""
    rng = random.Random(seed * 1_000_003 + i)
    base, slug, latin = _base_name(rng)
    suffix = _weighted(rng, SUFFIXES)
    name = f"{base} {suffix}".strip() if latin else base
    domain = f"{slug[:40]}.{_weighted(rng, TLDS)}"
    customer = Customer(customer_id=i + 1, name=name, domains=[domain])
    if rng.random() < 0.1:
        customer.aliases.append("".join(w[0] for w in base.split() if w[0].isalpha()).upper() or base)
    for _ in range(rng.choices([0, 1, 2, 3], weights=[10, 45, 30, 15])[0]):
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        customer.contact_names.append(f"{first} {last}")
        local = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
        mail_domain = rng.choice(FREE_MAIL) if rng.random() < 0.1 else domain
        customer.contact_emails.append(f"{local}@{mail_domain}")
    return customer


def generate(n: int, seed: int = 42) -> Iterator[Customer]:
    """Customers 0..n-1 in order."""
    for i in range(n):
        yield make_customer(i, seed)


# --- query variants ------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(word: str, rng: random.Random) -> str:
    """One random edit (substitute, delete, insert, swap) away from ``word``, inside the word."""
    if len(word) < 4:
        return word
    i = rng.randint(1, len(word) - 2)
    op = rng.choice(["sub", "del", "ins", "swap"])
    if op == "sub":
        return word[:i] + rng.choice(_LETTERS) + word[i + 1 :]
    if op == "del":
        return word[:i] + word[i + 1 :]
    if op == "ins":
        return word[:i] + rng.choice(_LETTERS) + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def make_query(customer: Customer, rng: random.Random) -> tuple[str, str]:
    """A realistic query for ``customer`` and what kind it is."""
    words = customer.name.split()
    kind = rng.choices(
        ["exact", "no_suffix", "typo", "prefix", "lower", "domain", "email", "contact"],
        weights=[10, 15, 35, 10, 10, 8, 6, 6],
    )[0]
    if kind == "domain" and customer.domains:
        return customer.domains[0], kind
    if kind == "email" and customer.contact_emails:
        return customer.contact_emails[0], kind
    if kind == "contact" and customer.contact_names:
        return customer.contact_names[0], kind
    if kind == "prefix" and len(customer.name) > 4:
        return customer.name[: max(3, int(len(customer.name) * 0.6))], kind
    suffixes = {s for s, _ in SUFFIXES if s}
    bare = customer.name
    for suffix in suffixes:
        if customer.name.endswith(" " + suffix):
            bare = customer.name[: -len(suffix) - 1]
            break
    if kind == "typo":
        words = bare.split() if rng.random() < 0.5 else words
        long_words = [k for k, w in enumerate(words) if len(w) >= 5]
        if long_words:
            k = rng.choice(long_words)
            return " ".join([*words[:k], typo(words[k], rng), *words[k + 1 :]]), kind
    if kind == "no_suffix" and bare != customer.name:
        return bare, kind
    if kind == "lower":
        return customer.name.lower(), kind
    return customer.name, "exact"


if __name__ == "__main__":
    for c in generate(int(sys.argv[1]) if len(sys.argv) > 1 else 10):
        print(c)
