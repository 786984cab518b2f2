"""Duplicate report: blocking and scoring, the workspace report, `crm-bot dedupe` and `/crm duplicates`."""

from __future__ import annotations

import csv
import os
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.dev.blockkit_check import validate_message
from commands.customers import views
from commands.duplicates.views import SHOW_CONTACTS, SHOW_CUSTOMERS, duplicates_blocks, duplicates_text
from crm import customers as svc
from crm import dedupe
from crm.actors import Actor
from crm.dedupe import ContactRecord, CustomerRecord, contact_pairs, customer_pairs
from crm.models import Customer
from crm.normalize import normalize_name
from tests.conftest import ADMIN, REP
from tests.support.processes import run

CRM_BOT = str(Path(sys.executable).parent / "crm-bot")


_WORDS = """
alder birch cedar dogwood elm fir ginkgo hazel ivy juniper kauri larch maple nutmeg oak pine quince
rowan spruce teak umbrella vine willow yew zelkova acacia baobab cypress date ebony
""".split()


def rec(key, name, domain=None, emails=(), phones=(), aliases=()):
    return CustomerRecord(
        key, name, normalize_name(name), domain, tuple(normalize_name(a) for a in aliases), set(emails), set(phones)
    )


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (rec(1, "Acme Corporation"), rec(2, "ACME Corp."), "same name"),
        (rec(1, "Acme Corporation"), rec(2, "Acmee Corporation"), "similar name"),
        (rec(1, "Blue Ocean Analytics"), rec(2, "Blu Ocean Analytics"), "similar name"),
        (rec(1, "Initech", aliases=["Initrode"]), rec(2, "Initrode GmbH"), "same as a former name"),
        (rec(1, "Acme", domain="acme.com"), rec(2, "Acmee", domain="acme.com"), "same website (acme.com)"),
        (rec(1, "Foo", emails={"jo@x.io"}), rec(2, "Bar", emails={"jo@x.io"}), "shared contact email (jo@x.io)"),
        (rec(1, "Foo Bar", phones={"+4930123456"}), rec(2, "Foo Bars", phones={"+4930123456"}), "same phone"),
        # real spellings of one applicant: a typo, a joined word, a legal form, initials
        (rec(1, "GIST- BROCADES B.V."), rec(2, "GISTBROCADES N. V."), "same name written with different spacing"),
        (rec(1, "AKZO NOBEL COMPANY"), rec(2, "AKZO NOVEL NV."), "similar name"),
        (rec(1, "UNILEVER N.V., ROTTERDAM"), rec(2, "Unilever NV"), "same name"),
        (rec(1, "D S M N. V."), rec(2, "DSM NV, TE HEERLEN"), "same name"),
        (rec(1, "HUNTERDOUGLASINDUSTRIESB.V."), rec(2, "Hunter Douglas Industries"), "same name written"),
        (rec(1, "E.I. DU PONT DE NEMOURS AND COMPANY"), rec(2, "Du Pont de Nemours"), "similar name"),
        (rec(1, "cyberdine"), rec(2, "Cyberdyne Trading"), "similar name"),
    ],
)
def test_customer_pairs_reasons(a, b, reason):
    [pair] = customer_pairs([a, b])
    assert {pair.a, pair.b} == {1, 2}
    assert any(r.startswith(reason) for r in pair.reasons), pair.reasons
    assert 85 <= pair.score <= 100


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (rec(1, "Acme Analytics"), rec(2, "Acme Robotics")),
        (rec(1, "Globex"), rec(2, "Initech")),
        (rec(1, "Al", domain="gmail.com"), rec(2, "Bo", domain="gmail.com")),  # free mail says nothing
        # a shared website or switchboard alone is not enough when the names differ
        (rec(1, "Acme", domain="acme.com"), rec(2, "Roadrunner", domain="acme.com")),
        (rec(1, "Palace Court", phones={"+17027317110"}), rec(2, "Cafe Roma", phones={"+17027317110"})),
        # branch qualifiers that differ
        (rec(1, "Firman House East"), rec(2, "Firman House West")),
        (rec(1, "Lincoln Academy - II"), rec(2, "Lincoln Academy - III")),
        (rec(1, "Shelter Services (East)"), rec(2, "Shelter Services (West)")),
        (rec(1, "Chicago Public Schools of Lawndale"), rec(2, "Chicago Public Schools of Austin")),
    ],
)
def test_different_customers_are_not_paired(a, b):
    assert customer_pairs([a, b]) == []


def test_generic_words_count_less_than_a_distinctive_one():
    """In a workspace full of "Chicago Public Schools …", the one distinctive word decides."""
    schools = [rec(i, f"Chicago Public Schools {w} Campus") for i, w in enumerate(
        ["Lawndale", "Austin", "Avalon", "Pilsen", "Bridgeport", "Hegewisch", "Kenwood", "Uptown"])]  # fmt: skip
    schools.append(rec("typo", "Chicago Public Schools Lawndal Campus"))
    found = {frozenset((p.a, p.b)) for p in customer_pairs(schools)}
    assert found == {frozenset((0, "typo"))}


def test_different_phones_or_websites_on_equal_names_make_it_review():
    [pair] = customer_pairs([rec(1, "Mortons", phones={"+13122550000"}), rec(2, "Mortons", phones={"+17025550000"})])
    assert pair.verdict == "review" and any(r.startswith("but different phones") for r in pair.reasons)
    [same] = customer_pairs([rec(1, "Mortons", phones={"+13122550000"}), rec(2, "Mortons", phones={"+13122550000"})])
    assert same.verdict == "same" and same.score == 100
    [site] = customer_pairs([rec(1, "Acme", domain="acme.com"), rec(2, "Acme", domain="acme.de")])
    assert site.verdict == "review" and "but different websites (acme.com, acme.de)" in site.reasons


def test_several_reasons_score_higher_than_one():
    [one] = customer_pairs([rec(1, "Acme Corp"), rec(2, "Acme Inc")])
    [two] = customer_pairs([rec(1, "Acme Corp", domain="acme.com"), rec(2, "Acmee Inc", domain="acme.com")])
    [typo] = customer_pairs([rec(1, "Acme Corp"), rec(2, "Acmee Inc")])
    assert one.score == 100 and two.score > typo.score and len(two.reasons) == 2


def test_a_typo_or_joined_word_still_meets_in_a_block():
    names = ["GIST- BROCADES B.V.", "GISTBROCADES N. V.", "AKZO NOBEL COMPANY", "AKZO NOVEL NV.",
             "SCHLUMBERGER CA LTD.", "SCHLUMBERGER LIMITED", "cyberdine", "Cyberdyne Trading"]  # fmt: skip
    others = [rec(100 + i, f"Company {w}") for i, w in enumerate("ab cd ef gh ij kl mn".split())]
    records = [rec(i, n) for i, n in enumerate(names)] + others
    compared = dedupe.candidate_pairs(records)
    assert {(0, 1), (2, 3), (4, 5), (6, 7)} <= compared


def test_a_shared_address_lifts_a_split_word_with_a_typo_but_not_an_unlike_name():
    """Names sharing an address pass a cheaper name test (the floor, not the threshold): a word
    split in two plus a typo ("ja red jolky") still counts, a different company in the building does not."""

    def at(key, name):
        r = rec(key, name)
        r.addresses.add("2290|84")
        return r

    (pair,) = customer_pairs([at(1, "jared jolly"), at(2, "ja red jolky")])
    assert "same address (2290|84)" in pair.reasons and pair.verdict == "review"
    assert customer_pairs([at(1, "jared jolly"), at(2, "Northwind Traders")]) == []
    (mail,) = customer_pairs([rec(1, "Foo", emails={"jo@x.io"}), rec(2, "Bar", emails={"jo@x.io"}, phones={"+1"})])
    assert "shared contact email (jo@x.io)" in mail.reasons


def test_crowds_are_grouped_not_paired():
    """10,000 companies behind one switchboard and 5,000 branches of a chain: a few lines, no flood."""
    records = [rec(i, f"Tenant {i:05d} {chr(97 + i % 26)}{chr(97 + i // 26 % 26)}", phones={"+13125550000"})
               for i in range(10_000)]  # fmt: skip
    records += [rec(20_000 + i, f"Starbucks #{1000 + i}") for i in range(5_000)]
    records += [rec(30_000 + i, "GmbH") for i in range(50)] + [rec(40_000, "..."), rec(40_001, "Berlin")]
    started = time.process_time()  # CPU time: the machine is shared
    found = dedupe.find_candidates(records)
    pairs = customer_pairs(records, candidates=found)
    assert time.process_time() - started < 60  # about 4 s; quadratic would take hours
    whats = {g.what: g.size for g in found.groups}
    assert whats["share the phone +13125550000"] == 10_000
    assert whats["are named “starbucks” with different numbers or branches"] == 5_000
    assert whats["are named “gmbh”"] == 50
    assert len(pairs) < 100, pairs[:5]


def test_many_records_of_one_real_name_are_paired_but_a_legal_form_alone_is_not():
    """40 spellings that normalise to one name are duplicates: every pair is reported (each can
    be merged); 50 records named only "GmbH" tell nothing apart and stay a group."""
    spellings = ["PHILIPS ELECTRONICS N.V.", "Philips Electronics NV", "philips electronics, n. v."]
    records = [rec(i, spellings[i % 3]) for i in range(40)] + [rec(100 + i, "GmbH") for i in range(50)]
    found = dedupe.find_candidates(records)
    pairs = customer_pairs(records, candidates=found)
    assert len(pairs) == 40 * 39 // 2 and all(p.score == 100 and p.verdict == "same" for p in pairs)
    assert all(isinstance(p.a, int) and p.a < 100 and p.b < 100 for p in pairs)
    kinds = {g.what: (g.size, g.kind, g.paired) for g in found.groups}
    assert kinds["are named “philips electronics”"] == (40, "name", True)
    assert kinds["are named “gmbh”"] == (50, "name", False)
    assert all(len(g.members) == g.size for g in found.groups)


def test_the_report_lists_a_name_groups_records_against_its_keeper(services, make):
    ws = services.workspace_id("T0TEST")
    made = make.customers([f"Philips Electronics{' N.V.' if i % 2 else ' NV'}" for i in range(30)])
    busiest = made[7]
    make.contact(busiest, "Jane Doe")
    report = dedupe.find_duplicates(services.session_factory, ws)
    assert {d.keeper_id for d in report.customers} == {busiest.id}
    assert sorted(d.duplicate_id for d in report.customers) == sorted(c.id for c in made if c.id != busiest.id)
    [group] = report.groups
    assert (group.size, group.paired, group.what) == (30, True, "are named “philips electronics”")


def test_a_crowds_switchboard_is_no_evidence_for_or_against():
    """A building's switchboard shared by 30 tenants neither lifts a pair nor counts as a
    different phone; the same number shared by two companies alone is evidence."""
    board = "+13125550000"
    tenants = [rec(i, f"Tenant {word}", phones={board}) for i, word in enumerate(_WORDS[:30])]
    crowd = [
        *tenants,
        rec("a", "Harbor Dental Group", phones={board}),
        rec("b", "Harbour Dental Group", phones={board}),
    ]
    pair = next(p for p in customer_pairs(crowd) if {p.a, p.b} == {"a", "b"})
    assert not any("phone" in r for r in pair.reasons), pair.reasons
    two = [rec("a", "Harbor Dental Group", phones={board}), rec("b", "Harbour Dental Group", phones={board})]
    (alone,) = customer_pairs(two)
    assert f"same phone ({board})" in alone.reasons
    assert alone.score > pair.score


def test_big_blocks_stay_linear():
    """20,000 names sharing their first word: sorted windows, not 200 million comparisons."""
    records = [rec(i, f"Global Trading {i:05d} {chr(97 + i % 26)}x") for i in range(20_000)]
    records.append(rec("dup", "Global Trading 00042 qx"))
    started = time.process_time()  # CPU time: the machine is shared
    pairs = customer_pairs(records, min_score=97)
    assert time.process_time() - started < 30  # about 3 s; quadratic would take hours
    assert any("dup" in (p.a, p.b) for p in pairs)


def test_contact_pairs():
    contacts = [
        ContactRecord(1, "Jane Doe", "jane doe", 10, "jane@acme.com", None),
        ContactRecord(2, "Jane Doe", "jane doe", 11, "jane@acme.com", None),  # same email elsewhere
        ContactRecord(3, "Bob Smith", "bob smith", 10, None, "+14155550100"),
        ContactRecord(4, "Bob Smyth", "bob smyth", 10, None, None),  # close name, same customer
        ContactRecord(5, "Bob Smith", "bob smith", 12, None, None),  # same name, other customer
    ]
    found = {frozenset((p.a, p.b)): p for p in contact_pairs(contacts)}
    assert set(found) == {frozenset((1, 2)), frozenset((3, 4))}
    assert found[frozenset((1, 2))].reasons[0] == "same email (jane@acme.com)"
    assert found[frozenset((3, 4))].reasons[0].startswith("similar name")


@pytest.mark.parametrize(
    ("a", "b", "paired"),
    [
        ("Dr. Jane Q. Smith", "Jane Smith", True),
        ("Smith, Jane", "Jane Smith", True),
        ("J. Smith", "Jane Smith", True),
        ("Ms Jane Smith Jr.", "jane smith", True),
        ("Jane Smith", "John Smith", False),
        ("Jane Smith", "Jane Doe", False),
    ],
)
def test_contact_names_are_compared_with_their_parts_understood(a, b, paired):
    contacts = [ContactRecord(1, a, normalize_name(a), 10), ContactRecord(2, b, normalize_name(b), 10)]
    assert bool(contact_pairs(contacts)) is paired


# -- the workspace report on SQLite and PostgreSQL -------------------------------------------
def seed(make):
    """Seven customers, four contacts; forced in, as an import or "Create anyway" would."""
    acme = make.customer("Acme Corporation", force=True, website="acme.com")
    make.contact(acme, "Jane Doe")
    twin = make.customer("ACME Corp", force=True, contacts=[svc.ContactInput(name="Wile E", email="wile@acme.com")])
    make.customer("Globex", force=True)
    make.customer("Initech", force=True, website="initech.com")
    make.customer("Initek", force=True, website="https://www.initech.com")
    make.customer(
        "Roadrunner Supplies", force=True, contacts=[svc.ContactInput(name="Jane Doe", email="jdoe@example.com")]
    )
    make.customer("Roadrunner Supply", force=True, contacts=[svc.ContactInput(name="J. Doe", email="JDoe@example.com")])
    return acme, twin


def test_find_duplicates_proposes_the_record_with_more_data_as_keeper(services, make):
    ws = services.workspace_id("T0TEST")
    acme, twin = seed(make)
    report = dedupe.find_duplicates(services.session_factory, ws)
    assert report.customers_checked == 7 and report.contacts_checked == 4
    first = report.customers[0]
    assert (first.duplicate_id, first.keeper_id) == (twin.id, acme.id)  # as much data: keep the older
    assert first.score == 100 and "same name" in first.reasons
    names = {(d.duplicate_name, d.keeper_name) for d in report.customers}
    assert ("Roadrunner Supply", "Roadrunner Supplies") in names
    assert ("Initek", "Initech") in names
    assert not any("Globex" in pair for pair in names)
    [contact] = report.contacts
    assert "jdoe@example.com" in contact.first and contact.reasons[0].startswith("same email")
    # A merged customer is no longer reported.
    svc.merge_customers(
        services.session_factory, services.search, ws, twin.id, acme.id, actor=Actor(ADMIN, is_admin=True)
    )
    after = dedupe.find_duplicates(services.session_factory, ws)
    assert all(twin.id not in (d.duplicate_id, d.keeper_id) for d in after.customers)


def test_duplicates_blocks_fit_slack_limits():
    pairs = [
        dedupe.CustomerDuplicate(i, "<!channel> " + "D" * 300, i + 1000, "K" * 300, 91.0, ("similar name (91%)",) * 20)
        for i in range(60)
    ]
    contacts = [dedupe.ContactDuplicate(i, "x" * 400, i + 1, "y" * 400, 100.0, ("same email",)) for i in range(40)]
    report = dedupe.DuplicateReport(pairs, contacts, 100, 80)
    blocks = duplicates_blocks(report, team_id="T0TEST")
    assert validate_message({"text": duplicates_text(report), "blocks": blocks}) == []
    buttons = [b["accessory"] for b in blocks if b.get("accessory")]
    customer_buttons = [b for b in buttons if b["action_id"] == views.MERGE_CONFIRM]
    assert len(customer_buttons) == SHOW_CUSTOMERS and buttons[0]["value"] == "0:1000"
    assert (
        len(buttons) == SHOW_CUSTOMERS + SHOW_CONTACTS
        and buttons[-1]["value"] == f"{SHOW_CONTACTS - 1}:{SHOW_CONTACTS}"
    )
    text = str(blocks)
    assert "and 40 more customer pairs" in text and "more contact pairs" in text
    shown = " ".join(b["text"]["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn")
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown  # plain_text in the dialog can't ping
    empty = duplicates_blocks(dedupe.DuplicateReport([], [], 3, 0))
    assert "No probable duplicates" in str(empty)
    assert "Checked 1 customer and 1 contact." in str(duplicates_blocks(dedupe.DuplicateReport([], [], 1, 1)))
    crowd = [dedupe.Group("share the phone +13125550000", 10_000, ("<@U1> Tenant", "Tenant 2"))] * 9
    grouped = duplicates_blocks(dedupe.DuplicateReport(pairs[:1], [], 10_001, 0, crowd))
    assert validate_message({"text": "x", "blocks": grouped}) == []
    assert "10,000 customers share the phone +13125550000" in str(grouped) and "4 more such groups" in str(grouped)
    assert "<@U1>" not in str(grouped)
    named = dedupe.Group("are named “" + "p" * 300 + "”", 200, ("P" * 300,) * 3, paired=True, kind="name")
    listed = duplicates_blocks(dedupe.DuplicateReport(pairs[:1], [], 10_001, 0, [named] * 5))
    assert validate_message({"text": "x", "blocks": listed}) == []
    assert str(listed).count("(each paired with the one to keep)") == 5


# -- `/crm duplicates` end to end, and the CLI ---------------------------------------------------
def test_crm_duplicates_for_admins_with_a_working_merge_button(slack, standin, app_server, make):
    services = app_server.services
    acme, twin = seed(make)
    slack.command("/crm", "duplicates", user=REP)
    assert "Only workspace admins" in standin.wait_for("response_url")[-1].params["text"]
    slack.command("/crm", "duplicates", user=ADMIN)
    reply = standin.wait_for("response_url", count=2)[-1].params
    assert reply["response_type"] == "ephemeral" and "Probable duplicates" in reply["text"]
    button = reply["blocks"][3]["accessory"]
    assert button["action_id"] == views.MERGE_CONFIRM and button["value"] == f"{twin.id}:{acme.id}"
    assert button["confirm"]["confirm"]["text"] == "Merge"
    assert "Contacts" in str(reply["blocks"])
    slack.click(views.MERGE_CONFIRM, button["value"], user=ADMIN)
    done = standin.wait_for("response_url", count=3)[-1].params
    assert "Merged ACME Corp into Acme Corporation" in done["text"]
    with services.session_factory() as s:
        assert s.scalar(select(Customer.merged_into_id).where(Customer.id == twin.id)) == acme.id
    slack.command("/crm", "help", user=REP)
    assert "/crm duplicates" in str(standin.wait_for("response_url", count=4)[-1].params["blocks"])


def test_crm_duplicates_lists_a_name_groups_records_against_its_keeper(slack, standin, app_server, make):
    """Thirty records of one name, over signed HTTP: one group line, and each shown record's
    Merge button merges it into the group's keeper (the one with a contact)."""
    services = app_server.services
    made = make.customers([f"Philips Electronics{' N.V.' if i % 2 else ' NV'}" for i in range(30)])
    keeper = made[12]
    make.contact(keeper, "Jane Doe")
    slack.command("/crm", "duplicates", user=ADMIN)
    reply = standin.wait_for("response_url")[-1].params
    assert validate_message({"text": reply["text"], "blocks": reply["blocks"]}) == []
    buttons = [b["accessory"]["value"] for b in reply["blocks"] if b.get("accessory")]
    assert len(buttons) == SHOW_CUSTOMERS and all(v.endswith(f":{keeper.id}") for v in buttons)
    [line] = [
        e["text"] for b in reply["blocks"] if b["type"] == "context" for e in b["elements"] if "named" in e["text"]
    ]
    assert "30 customers are named “philips electronics”" in line and line.endswith(
        "(each paired with the one to keep)."
    )
    twin = int(buttons[0].split(":")[0])
    slack.click(views.MERGE_CONFIRM, buttons[0], user=ADMIN)
    assert "Merged" in standin.wait_for("response_url", count=2)[-1].params["text"]
    with services.session_factory() as s:
        assert s.scalar(select(Customer.merged_into_id).where(Customer.id == twin)) == keeper.id


def test_cli_dedupe(services, database_url, tmp_path, make):
    acme, twin = seed(make)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    result = run([CRM_BOT, "dedupe", "--team", "T0TEST"], cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Checked 7 customers and 4 contacts." in result.stdout
    assert f"#{twin.id} ACME Corp  →  merge into #{acme.id} Acme Corporation" in result.stdout
    assert "Probable duplicate contacts (1):" in result.stdout


def test_cli_dedupe_writes_every_finding_to_csv(services, database_url, tmp_path, make):
    """--csv lists every pair and every member of a group (the terminal shows a sample), with
    names that a spreadsheet would run as a formula neutralised, and replaces the file whole."""
    acme, twin = seed(make)
    make.customers([f"Tenant {word}" for word in _WORDS[:27]], phone="+13125550000")
    formula = make.customer("=HYPERLINK(evil)", force=True)
    make.customer("=HYPERLINK(evil) Inc", force=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_"))}
    env["DATABASE_URL"] = database_url
    out = tmp_path / "dupes.csv"
    out.write_text("an older report\n")
    result = run(
        [CRM_BOT, "dedupe", "--team", "T0TEST", "--limit", "1", "--csv", str(out)], cwd=tmp_path, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(dedupe.REPORT_COLUMNS)
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["customer group"] == 27 and kinds["contact"] == 1 and kinds["customer"] >= 3
    assert f"Wrote {len(rows):,} rows to {out}." in result.stdout
    pair = next(r for r in rows if r["duplicate_id"] == str(twin.id))
    assert (pair["keeper_id"], pair["keeper"], pair["verdict"]) == (str(acme.id), "Acme Corporation", "same")
    assert "same name" in pair["reasons"]
    group = {r["group"] for r in rows if r["kind"] == "customer group"}
    assert group == {"27 customers share the phone +13125550000"}
    evil = [r for r in rows if str(formula.id) in (r["duplicate_id"], r["keeper_id"])]
    assert evil and all(not r["duplicate"].startswith("=") and not r["keeper"].startswith("=") for r in evil)
    assert not list(tmp_path.glob(".dupes.csv*")), "no temporary file left behind"

    missing = tmp_path / "nowhere" / "dupes.csv"
    refused = run([CRM_BOT, "dedupe", "--team", "T0TEST", "--csv", str(missing)], cwd=tmp_path, env=env, timeout=60)
    assert refused.returncode == 1 and "the folder" in refused.stderr and "does not exist" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_shared_phone_alone_does_not_pair_two_different_people():
    switchboard = "+16175550173"
    contacts = [
        ContactRecord(1, "Linda Green", "linda green", 10, "linda@harbor.io", switchboard),
        ContactRecord(2, "Jessica Dubois", "jessica dubois", 11, "jessica@oak.com", switchboard),  # the front desk
        ContactRecord(3, "Robert Buyer", "robert buyer", 12, None, "+14155550100"),
        ContactRecord(4, "Rob Buyer", "rob buyer", 13, None, "+14155550100"),  # one person, two spellings
        ContactRecord(5, "James Taylor", "james taylor", 14, None, "+14155550133"),
        ContactRecord(6, "Matthew Taylor", "matthew taylor", 15, None, "+14155550133"),  # one office, two people
    ]
    found = {frozenset((p.a, p.b)): p for p in contact_pairs(contacts)}
    assert set(found) == {frozenset((3, 4))}
    assert found[frozenset((3, 4))].reasons[0] == "same phone (+14155550100)"


def test_the_fuller_records_phone_and_address_are_evidence(services, ws, make):
    from crm.models import Customer

    harbor = make.customer("Harbor Cafe")
    harbour = make.customer("Harbour Café & Bar", force=True)
    other = make.customer("Harbor Cafe West", force=True)
    places = {
        harbor.id: ("+14155550100", "12 Main St", "94105"),
        harbour.id: ("+14155550100", "Main Street 12", "94 105"),
        other.id: ("+14155550199", "800 Ocean Ave", "94121"),
    }
    with services.session_factory.begin() as s:
        for cid, (phone, street, postal) in places.items():
            row = s.get(Customer, cid)
            row.phone, row.billing_street, row.billing_postal_code = phone, street, postal
    assert dedupe.address_key("94 105", "Main Street 12") == dedupe.address_key("94105", "12 Main St") == "94105|12"
    assert dedupe.address_key(None, "12 Main St") is None and dedupe.address_key("94105", "Main St") is None
    report = dedupe.find_duplicates(services.session_factory, ws)
    pair = next(p for p in report.customers if {p.duplicate_id, p.keeper_id} == {harbor.id, harbour.id})
    assert "same phone (+14155550100)" in pair.reasons and "same address (94105|12)" in pair.reasons
    west = [p for p in report.customers if other.id in (p.duplicate_id, p.keeper_id)]
    assert all(p.verdict == "review" for p in west)  # a branch qualifier, another phone and address
