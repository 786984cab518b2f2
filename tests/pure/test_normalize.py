"""Tables for crm.normalize: names, domains, emails, phones, free mail."""

from __future__ import annotations

import pytest

from crm.errors import InvalidInput
from crm.normalize import (
    FREE_EMAIL_DOMAINS,
    extract_domain,
    extract_emails,
    is_free_email_domain,
    is_valid_domain,
    is_valid_email,
    normalize_name,
    normalize_phone,
    registrable_domain,
)

# --- names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["ACME Corp.", "Acme Corporation", "acme corp", "The Acme Company", "Acme, Inc.", "ACME Incorporated",
     "Acme LLC", "Acme L.L.C.", "Acme Ltd", "Acme Limited", "Acme GmbH", "Acme AG", "Acme S.A.", "Acme SA",
     "Acme SARL", "Acme S.à r.l.", "Acme B.V.", "Acme BV", "Acme N.V.", "Acme Pty Ltd", "Acme Pty. Ltd.",
     "Acme PLC", "Acme Co.", "Acme Co., Ltd.", "Acme KG", "Acme GmbH & Co. KG", "Acme Oy", "Acme AB",
     "Acme AS", "Acme A/S", "Acme SpA", "Acme S.p.A.", "Acme S.r.l.", "Acme Srl", "Acme K.K.",
     "Acme Pte Ltd", "Acme Pte. Ltd.", "Acme SAS", "Acme S.A. de C.V.", "  acme   corp  ", "ＡＣＭＥ Corp"],
)  # fmt: skip
def test_legal_suffixes_are_dropped(variant: str) -> None:
    assert normalize_name(variant) == "acme"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Müller GmbH", "muller"),
        ("Muller", "muller"),
        ("Société Générale S.A.", "societe generale"),
        ("Nestlé S.A.", "nestle"),
        ("L'Oréal", "loreal"),
        ("McDonald's Corporation", "mcdonalds"),
        ("Procter & Gamble Co.", "procter and gamble"),
        ("Marks + Spencer", "marks and spencer"),
        ("Smith & Co.", "smith"),
        ("Straße AG", "strasse"),
        ("Ørsted A/S", "orsted"),
        ("Łódź Trading", "lodz trading"),
        ("Æon", "aeon"),
        ("Coca-Cola", "coca cola"),
        ("I.B.M.", "ibm"),
        ("Acme Intl", "acme international"),
        ("Acme Int'l", "acme international"),
        ("Acme Mfg Co", "acme manufacturing"),
        ("Tata Consultancy Services Limited", "tata consultancy services"),
        ("The Home Depot, Inc.", "home depot"),
        ("Amazon.com, Inc.", "amazon com"),
        ("3M Company", "3m"),
        # only a suffix: keep something
        ("The Company", "company"),
        ("Limited", "limited"),
        ("Co.", "co"),
        ("The", "the"),
        ("Inc. Ltd.", "inc"),
        # non-Latin scripts are kept
        ("トヨタ自動車株式会社", "トヨタ自動車"),
        ("株式会社 東芝", "東芝"),
        ("华为技术有限公司", "华为技术"),
        ("삼성전자 주식회사", "삼성전자"),
        ("ООО Ромашка", "ромашка"),
        ("Газпром нефть", "газпром нефть"),
        ("شركة أرامكو", "شركة أرامكو"),
        ("ガンダム", "ガンダム"),  # dakuten on kana are not accents
        # junk
        ("", ""),
        ("   ", ""),
        ("\x00\x01", ""),
        ("!!!", ""),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_normalize_name_is_idempotent() -> None:
    for raw in ["The ACME Corp.", "Müller GmbH & Co. KG", "トヨタ自動車株式会社", "Acme Intl"]:
        once = normalize_name(raw)
        assert normalize_name(once) == once


# --- domains and emails ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@acme.com", "acme.com"),
        ("Bob <Bob@ACME.com>", "acme.com"),
        ("https://www.acme.co.uk/about", "acme.co.uk"),
        ("http://acme.com:8080/x?y=1", "acme.com"),
        ("HTTPS://WWW.Acme.COM", "acme.com"),
        ("www.acme.io", "acme.io"),
        ("acme.com", "acme.com"),
        ("see acme.de.", "acme.de"),
        ("shop.acme.com.au", "shop.acme.com.au"),
        ("xn--mller-kva.de", "xn--mller-kva.de"),
        ("müller.de", "müller.de"),
        ("Acme Inc.", None),
        ("version 1.2.3", None),
        ("e.g. this", None),
        ("", None),
        ("http://", None),
        ("bob@localhost", None),
        ("just words", None),
    ],
)
def test_extract_domain(text: str, expected: str | None) -> None:
    assert extract_domain(text) == expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("mail.acme.com", "acme.com"),
        ("acme.com", "acme.com"),
        ("eu.mail.acme.co.uk", "acme.co.uk"),
        ("acme.com.au", "acme.com.au"),
        ("a.b.c.de", "c.de"),
    ],
)
def test_registrable_domain(domain: str, expected: str) -> None:
    assert registrable_domain(domain) == expected


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("bob@acme.com", True),
        ("bob.smith+crm@acme.co.uk", True),
        ("o'brien@acme.ie", True),
        ("BOB@ACME.COM", True),
        ("bob@acme", False),
        ("bob@@acme.com", False),
        ("bob@.acme.com", False),
        ("bob..smith@acme.com", False),
        (".bob@acme.com", False),
        ("bob smith@acme.com", False),
        ("@acme.com", False),
        ("bob@", False),
        ("", False),
        ("x" * 65 + "@acme.com", False),
    ],
)
def test_is_valid_email(email: str, valid: bool) -> None:
    assert is_valid_email(email) is valid


@pytest.mark.parametrize(
    ("domain", "valid"),
    [
        ("acme.com", True),
        ("sub.acme.co.uk", True),
        ("a-b.io", True),
        ("acme", False),
        ("-acme.com", False),
        ("acme-.com", False),
        ("acme.c", False),
        ("acme.123", False),
        ("acme..com", False),
        (" acme.com", False),
        ("", False),
    ],
)
def test_is_valid_domain(domain: str, valid: bool) -> None:
    assert is_valid_domain(domain) is valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@acme.com", ["bob@acme.com"]),
        ("Bob <Bob@Acme.com>, alice@acme.com; bob@acme.com", ["bob@acme.com", "alice@acme.com"]),
        ("mail bob@acme.com.", ["bob@acme.com"]),
        ("no email here", []),
        ("bob@acme", []),
        ("", []),
    ],
)
def test_extract_emails(text: str, expected: list[str]) -> None:
    assert extract_emails(text) == expected


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("GMAIL.COM", True),
        ("googlemail.com", True),
        ("outlook.com", True),
        ("hotmail.co.uk", True),
        ("yahoo.com", True),
        ("yahoo.es", True),
        ("yahoo.co.jp", True),
        ("icloud.com", True),
        ("proton.me", True),
        ("protonmail.com", True),
        ("gmx.de", True),
        ("gmx.fr", True),
        ("web.de", True),
        ("mail.ru", True),
        ("qq.com", True),
        ("acme.com", False),
        ("gmail-fans.com", False),
        ("google.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_free_email_domain(domain: str | None, free: bool) -> None:
    assert is_free_email_domain(domain) is free


def test_free_email_domains_are_lowercase_domains() -> None:
    assert all(d == d.lower() and is_valid_domain(d) for d in FREE_EMAIL_DOMAINS)


# --- phones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("+1 415.555.0100", None, "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("1-415-555-0100", "US", "+14155550100"),
        ("(415) 555-0100", None, "4155550100"),
        ("+44 (0)20 7946 0000", None, "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("0049 30 1234567", None, "+49301234567"),
        ("030 1234567", "de", "+49301234567"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("02 1234 5678", "IT", "+390212345678"),  # Italy keeps the leading 0
        ("+1 415 555 0100 ext. 23", None, "+14155550100 x23"),
        ("+1 415 555 0100 x23", None, "+14155550100 x23"),
        ("+1 415 555 0100 #23", None, "+14155550100 x23"),
        ("+49 30 1234567 extension 7", None, "+49301234567 x7"),
        ("+81 3-1234-5678", "US", "+81312345678"),  # a + wins over the region
        ("123456", None, "123456"),
    ],
)
def test_normalize_phone(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "12345", "+1 23", "call me", "1-800-FLOWERS", "+1 415 555 O1OO", "12345678901234567",
     "415;555", "\x00", "++14155550100"],
)  # fmt: skip
def test_normalize_phone_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalize_phone(raw)
    assert err.value.field == "phone"
    assert err.value.message
