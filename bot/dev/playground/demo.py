"""A realistic demo workspace for the playground: customers, contacts, deals, activities, follow-ups.

Deterministic (a fixed seed), relative to ``now``: every start looks the same, and a few
follow-ups fall due within minutes and hours, so time travel shows nudges arriving. Customers
and their first contact go through :func:`crm.customers.create_customer` (normalised names, the
search index, audit rows); the bulk of the history is inserted as :mod:`crm.models` rows.
"""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import datetime, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy import func, select, update

from bot.dev.playground.workspace import ADMIN, MANAGER, REP, USERS
from bot.services import Services
from crm.activity_types import types_for
from crm.customers import ContactInput, create_customer
from crm.lookup import bump_search_version
from crm.models import Activity, Contact, Customer, Deal, DealStageChange, FollowUp
from crm.normalize import normalize_name
from crm.states import ActivitySource, FollowUpStatus
from crm.value import recompute_tiers

SEED = 20240901
CUSTOMERS = 300

PREFIXES = """Apex Summit Pinnacle Blue Silver Golden Iron Oak Maple Cedar Willow Northern Pacific
Atlantic Nordic Alpine Coastal Metro Prime Vertex Nova Stellar Quantum Vector Horizon Evergreen Crystal
Bright River Harbor Bridge Keystone Liberty Heritage Pioneer Frontier Titan Atlas Orion Phoenix Falcon
Lion Bear Fox Hawk Global United Royal Premier Swift Clear True Bold Core Next Grand Globex Initech
Umbrella Hooli Vandelay Stark Wayne Tyrell Soylent Cyberdyne""".split()
INDUSTRIES = """Analytics Logistics Foods Brewing Consulting Software Systems Robotics Energy Solar Pharma
Biotech Medical Insurance Capital Partners Realty Construction Engineering Manufacturing Materials
Chemicals Steel Textiles Apparel Media Studios Publishing Marketing Travel Shipping Freight Motors
Aerospace Marine Farms Dairy Coffee Wines Hotels Restaurants Retail Supply Trading Electronics Labs
Research Learning Security Telecom Cloud Data Staffing Legal Accounting Architecture Printing Packaging""".split()
SUFFIXES = ["Inc.", "LLC", "Ltd", "GmbH", "AG", "S.A.", "B.V.", "Pty Ltd", "PLC", "Oy", "AB", "Corp.", "", "", ""]
FIRST = """James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Sandra Mark Ashley
Lena Jonas Sofia Mateo Chloé Luca Yuki Hana Wei Priya Arjun Olga Lars Ingrid Zoë Noah Amara Kwame""".split()
SURNAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Martinez Lopez Wilson Anderson Taylor
Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker Young King Wright Scott Green Baker
Müller Schmidt Fischer Weber Dubois Moreau Rossi Bianchi Nakamura Tanaka Kim Park Chen Wang Singh Patel
Nowak Jensen Nielsen Johansson Virtanen Yılmaz Ivanov O'Brien Sánchez Pérez Núñez""".split()
TITLES = ["CEO", "CTO", "CFO", "VP Sales", "Head of Operations", "Procurement Lead", "IT Director",
          "Office Manager", "Buyer", "Founder", "Product Manager", "Finance Director"]  # fmt: skip
PRODUCTS = ["Platform licence", "Support plan", "Onboarding package", "Analytics add-on", "Enterprise tier",
            "Renewal", "Pilot", "Expansion", "Hardware bundle", "Training"]  # fmt: skip
SUMMARIES = {
    "call": [
        "Discussed renewal pricing; they want a 2-year option.",
        "Intro call with {contact}. Budget approved for Q3.",
        "Checked in after the pilot: happy so far, two open tickets.",
        "Left a voicemail for {contact}.",
        "{contact} asked for a cheaper tier; promised a proposal.",
    ],
    "meeting": [
        "On-site meeting with {contact} and their IT team.",
        "Quarterly business review: usage up 30%.",
        "Lunch with {contact}; they are evaluating a competitor.",
    ],
    "email": [
        "Sent the updated quote to {contact}.",
        "Shared the security questionnaire answers.",
        "Followed up on the unsigned order form.",
    ],
    "demo": ["Demo of the analytics add-on for {contact}'s team.", "Product demo; strong interest in the API."],
    "proposal": ["Sent proposal for {deal}.", "Revised proposal: 10% discount on a 3-year term."],
    "note": ["{contact} is moving to a new role next month.", "Procurement needs a W-9 before signing."],
}
STAGES = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_name.lower())


HEADLINE = "Acme Robotics"
HEADLINE_DOMAIN = "acme-robotics.com"
# Words of a company name that say nothing about which company it is.
_NOT_DISTINCTIVE = {"and", "&"} | {word.lower().rstrip(".") for suffix in SUFFIXES for word in suffix.split()}


def _made_up_domain(name: str, rng: random.Random) -> str:
    """A made-up domain from all of the name's distinctive words ("Chen and Wang Ltd" → chenwang.…)."""
    words = [w for w in name.split() if w.lower().rstrip(".") not in _NOT_DISTINCTIVE]
    return _slug("".join(words)) + rng.choice([".com", ".com", ".io", ".de", ".co.uk", ".net"])


# 555-0100 to 555-0199 are the numbers North America keeps for fiction: 100 per area code.
_AREA_CODES = ("212", "312", "415", "617", "206", "303", "404", "512", "702", "808")


def _fictional_phone(index: int) -> str:
    """A different valid, fictional number for each demo contact (a shared one reads as a duplicate)."""
    area, line = divmod(index, 100)
    return f"+1 {_AREA_CODES[area % len(_AREA_CODES)]} 555 {100 + line:04d}"


def _customer_name(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.55:
        words = [rng.choice(PREFIXES), rng.choice(INDUSTRIES)]
    elif shape < 0.8:
        words = [rng.choice(SURNAMES), rng.choice(["&", "and"]), rng.choice(SURNAMES)]
    else:
        words = [rng.choice(PREFIXES), rng.choice(PREFIXES), rng.choice(INDUSTRIES)]
    suffix = rng.choice(SUFFIXES)
    return " ".join(words + ([suffix] if suffix else []))


def already_seeded(services: Services, workspace_id: int) -> int:
    """How many customers the workspace has (a kept ``--database`` is not seeded twice)."""
    with services.session_factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace_id)) or 0
        )


def _moved_at(deal: Deal, to_stage: str, planned: datetime, now: datetime) -> datetime:
    """When a demo deal reached ``to_stage``: a closed deal reached won or lost when it closed,
    and no earlier step comes after that; nothing is in the future."""
    if deal.closed_at is not None:
        return deal.closed_at if to_stage == deal.stage else min(planned, deal.closed_at, now)
    return min(planned, now)


def seed_demo(services: Services, workspace_id: int, *, now: datetime, customers: int = CUSTOMERS) -> dict[str, int]:
    """Fill the workspace; returns how many of each thing were made."""
    rng = random.Random(SEED)
    sf = services.session_factory
    types = types_for(services.settings.activity_types)
    type_keys = [t.key for t in types]
    weights = [{"call": 5, "meeting": 3, "email": 4, "demo": 1, "proposal": 1}.get(k, 1) for k in type_keys]
    owners = [u.id for u in USERS]
    owner_weights = [45, 15, 5, 35]  # Rita, Maria, Alex, Sam

    names: set[str] = set()
    domains: set[str] = set()
    made: list[tuple[int, str, str, str]] = []  # (customer id, name, domain, owner)
    while len(made) < customers:
        # The first is the one the page's examples name ("/customer acme", "/log call Acme …"):
        # no other demo customer shares a word with it, so the examples find it and only it.
        headline = not made
        name = HEADLINE if headline else _customer_name(rng)
        key = normalize_name(name)
        if key in names or (names and process.extractOne(key, names, scorer=fuzz.ratio, score_cutoff=85)):
            continue  # a near-twin ("Martin and Wang" beside "Martinez and Wang") would read as a duplicate
        domain = HEADLINE_DOMAIN if headline else _made_up_domain(name, rng)
        if domain in domains:
            continue  # two different companies never share a made-up domain (that reads as a duplicate)
        names.add(key)
        domains.add(domain)
        owner = REP if headline else rng.choices(owners, owner_weights)[0]
        first, last = ("Jane", "Doe") if headline else (rng.choice(FIRST), rng.choice(SURNAMES))
        contact = ContactInput(
            name=f"{first} {last}",
            email=f"{_slug(first)}.{_slug(last)}@{domain}",
            # 555-0100 to 555-0199 are the fictional numbers of every North American area code.
            phone=_fictional_phone(len(made)),
            title=rng.choice(TITLES),
        )
        customer = create_customer(
            sf,
            services.search,
            workspace_id,
            actor=owner,
            name=name,
            website=f"https://www.{domain}" if rng.random() < 0.8 or headline else None,
            owner_user_id=owner,
            contact=contact,
            force=True,
            source=ActivitySource.IMPORT,
        )
        made.append((customer.id, customer.name, domain, owner))

    counts = {"customers": len(made), "contacts": len(made), "deals": 0, "activities": 0, "follow_ups": 0}
    with sf.begin() as session:
        for customer_id, name, domain, owner in made:
            people = []
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                first, last = rng.choice(FIRST), rng.choice(SURNAMES)
                full = f"{first} {last}"
                people.append(full)
                session.add(
                    Contact(
                        workspace_id=workspace_id,
                        customer_id=customer_id,
                        name=full,
                        normalized_name=normalize_name(full),
                        email=f"{_slug(first)}.{_slug(last)}@{domain}",
                        title=rng.choice(TITLES),
                        created_by="import",
                        created_at=now - timedelta(days=rng.randint(30, 400)),
                    )
                )
                counts["contacts"] += 1
            deals = []
            for _ in range(rng.choice([0, 0, 1, 1, 1, 2])):
                stage = rng.choices(STAGES, [4, 4, 3, 2, 3, 2])[0]
                created = now - timedelta(days=rng.randint(5, 200))
                deal = Deal(
                    workspace_id=workspace_id,
                    customer_id=customer_id,
                    title=f"{name.split()[0]} {rng.choice(PRODUCTS)}",
                    amount_minor=rng.choice([5, 8, 12, 15, 24, 30, 48, 60, 90, 120, 250]) * 100_000,
                    currency=rng.choice(["USD", "USD", "USD", "EUR", "GBP"]),
                    stage=stage,
                    expected_close=(now + timedelta(days=rng.randint(-20, 120))).date(),
                    owner_user_id=owner,
                    # A few weeks to close, as real deals take (not a day or two); never in the future.
                    closed_at=min(created + timedelta(days=rng.randint(14, 90)), now)
                    if stage in ("won", "lost")
                    else None,
                    created_by=owner,
                    created_at=created,
                )
                session.add(deal)
                session.flush()
                path = STAGES[: STAGES.index(stage) + 1] if stage != "lost" else ["lead", "qualified", "lost"]
                for step, (before, after) in enumerate(zip([None, *path], path, strict=False)):
                    session.add(
                        DealStageChange(
                            workspace_id=workspace_id,
                            deal_id=deal.id,
                            from_stage=before,
                            to_stage=after,
                            created_by=owner,
                            created_at=_moved_at(deal, after, created + timedelta(days=step * rng.randint(1, 3)), now),
                        )
                    )
                deals.append(deal)
                counts["deals"] += 1
            history = rng.choice([0, 1, 2, 3, 4, 6, 8, 12])
            for _ in range(history):
                type_key = rng.choices(type_keys, weights)[0]
                on_deal = rng.choice(deals) if deals and rng.random() < 0.5 else None
                template = rng.choice(SUMMARIES.get(type_key, SUMMARIES["note"]))
                who = owner if rng.random() < 0.75 else rng.choice(owners)
                occurred = now - timedelta(
                    days=rng.randint(0, 120), hours=rng.randint(0, 9), minutes=rng.randint(0, 59)
                )
                session.add(
                    Activity(
                        workspace_id=workspace_id,
                        customer_id=customer_id,
                        deal_id=on_deal.id if on_deal else None,
                        type_key=type_key,
                        summary=template.format(
                            contact=(people or ["the buyer"])[0], deal=on_deal.title if on_deal else "the renewal"
                        ),
                        occurred_at=occurred,
                        source=ActivitySource.IMPORT,
                        created_by=who,
                        created_at=occurred,
                    )
                )
                if on_deal is not None and (on_deal.last_activity_at is None or occurred > on_deal.last_activity_at):
                    on_deal.last_activity_at = occurred
                counts["activities"] += 1

        # Follow-ups: a couple due within minutes and hours for the rep (time travel shows the nudges
        # arriving), one overdue (nudged at the first tick), and the rest over the next two weeks.
        soon: list[tuple[str, timedelta, str | None]] = [
            (REP, timedelta(minutes=-5), "Send the signed order form back"),
            (REP, timedelta(minutes=20), "Call back about the discount"),
            (REP, timedelta(hours=2), "Check the pilot feedback"),
            (MANAGER, timedelta(hours=1), "Review the Q3 forecast with the account owner"),
            (ADMIN, timedelta(hours=3), "Confirm the merged records with finance"),
        ]
        picks = rng.sample(made, 45)
        for index, (customer_id, _name, _site, owner) in enumerate(picks):
            if index < len(soon):
                owner, offset, note = soon[index]
            else:
                offset = timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 8))
                note = rng.choice(["Chase the PO", "Send pricing", "Book a demo", "Renewal check-in", None])
            due = now + offset
            session.add(
                FollowUp(
                    workspace_id=workspace_id,
                    customer_id=customer_id,
                    owner_user_id=owner,
                    due_at=due,
                    note=note,
                    status=FollowUpStatus.OPEN,
                    nudge_at=due,
                    created_by=owner,
                    created_at=now - timedelta(days=1),
                )
            )
            counts["follow_ups"] += 1

        # The extra contacts are searchable too: mark every customer changed once.
        version = bump_search_version(session, workspace_id)
        session.execute(update(Customer).where(Customer.workspace_id == workspace_id).values(index_version=version))
    services.search.refresh(workspace_id)
    recompute_tiers(sf, workspace_id, now=now)  # the card and /crm accounts show tiers at once
    return counts
