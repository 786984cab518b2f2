"""Probable duplicate customers and contacts, found without comparing every pair.

Records are first put into *blocks* that share a normalised key: the same normalised
name or former name, the same website domain (never a free-mail one), the same contact
email or phone, or the same short name prefix ("acme|ana" for "Acme Analytics"). Only
records within one block are scored against each other with rapidfuzz, so the work
grows with the number of records, not with its square. A prefix block that grows past
:data:`MAX_BLOCK` members (a very common first word) is scanned as a sorted window of
neighbours instead of all pairs, which keeps the cost linear there too.

Pure scoring lives in :func:`customer_pairs` / :func:`contact_pairs` (no database);
:func:`find_duplicates` loads a workspace and proposes which record of each pair to keep.
Used by ``crm-bot dedupe``, ``/crm duplicates`` and the importer's duplicate report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Activity, Contact, Customer, CustomerAlias, Deal
from crm.normalize import is_free_email_domain

MIN_SCORE = 88.0  # pairs scoring below this are not reported ("Lake Apparel" / "Lan Apparel" is 87)
MAX_BLOCK = 300  # prefix blocks larger than this are scanned as a sorted window
WINDOW = 12  # neighbours compared in a sorted window

# Scores of the exact reasons (a close name scores its own similarity).
SAME_NAME = 100.0
SAME_DOMAIN = 95.0
SAME_EMAIL = 95.0
SAME_PHONE = 90.0


@dataclass
class CustomerRecord:
    """What duplicate detection needs to know about one customer (existing or to be imported)."""

    key: Hashable  # a customer id, or any other key (the importer uses ("line", n))
    name: str
    normalized: str
    domain: str | None = None
    aliases: tuple[str, ...] = ()  # normalised former names
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    # Address keys such as "<postal code>|<street number>": filled where address fields exist.
    addresses: set[str] = field(default_factory=set)
    weight: int = 0  # linked contacts + deals + activities: the heavier record is kept


@dataclass
class ContactRecord:
    key: Hashable
    name: str
    normalized: str
    customer_key: Hashable
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Pair:
    """Two records that are probably the same, with a 0..100 score and why."""

    a: Hashable
    b: Hashable
    score: float
    reasons: tuple[str, ...]


# -- scoring ----------------------------------------------------------------------------
def name_score(a: str, b: str) -> float:
    """Similarity 0..100 of two normalised names; 100 only when equal."""
    if a == b:
        return 100.0
    if not a or not b:
        return 0.0
    return min(99.0, max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)))


def _combine(reasons: dict[str, float]) -> float:
    """The best reason's score, plus two points per further reason, at most 100."""
    if not reasons:
        return 0.0
    return min(100.0, max(reasons.values()) + 2.0 * (len(reasons) - 1))


def prefix_keys(normalized: str) -> list[str]:
    """Fuzzy block keys of a normalised name: short prefixes that survive one typo."""
    toks = normalized.split()
    if not toks:
        return []
    if len(toks) == 1:
        t = toks[0]
        return [f"1:{t[:4]}", f"1z:{t[-4:]}"] if len(t) >= 4 else [f"1:{t}"]
    t1, t2 = toks[0], toks[1]
    return [f"2:{t1[:4]}|{t2[:3]}", f"2b:{t1[:2]}|{t2[-3:]}"]


def _exact_keys(rec: CustomerRecord) -> Iterable[tuple[str, str]]:
    """(block key, the reason it stands for) of a customer's exact keys."""
    if rec.normalized:
        yield f"n:{rec.normalized}", "name"
    for alias in rec.aliases:
        if alias:
            yield f"n:{alias}", "name"
    if rec.domain and not is_free_email_domain(rec.domain):
        yield f"d:{rec.domain}", "domain"
    for email in rec.emails:
        yield f"e:{email}", "email"
    for phone in rec.phones:
        yield f"p:{phone}", "phone"


def _block_pairs(members: list[int], *, exact: bool, sort_key: Callable[[int], str]) -> Iterable[tuple[int, int]]:
    """Index pairs to compare within one block, without going quadratic on big blocks."""
    n = len(members)
    if n < 2:
        return
    if exact:  # all the same by this key: pairing each with the first is enough to merge them all
        for m in members[1:]:
            yield members[0], m
        return
    if n <= MAX_BLOCK:
        for i in range(n):
            for j in range(i + 1, n):
                yield members[i], members[j]
        return
    ordered = sorted(members, key=sort_key)
    for i in range(n):
        for j in range(i + 1, min(n, i + 1 + WINDOW)):
            yield ordered[i], ordered[j]


def candidate_pairs(records: Sequence[CustomerRecord]) -> set[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of the records that share a block and so get scored."""
    exact_blocks: dict[str, list[int]] = defaultdict(list)
    fuzzy_blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        for key, _ in _exact_keys(rec):
            block = exact_blocks[key]
            if not block or block[-1] != i:
                block.append(i)
        for key in prefix_keys(rec.normalized):
            fuzzy_blocks[key].append(i)

    def by_name(i: int) -> str:
        return records[i].normalized

    seen: set[tuple[int, int]] = set()
    for exact, blocks in ((True, exact_blocks), (False, fuzzy_blocks)):
        for members in blocks.values():
            for i, j in _block_pairs(members, exact=exact, sort_key=by_name):
                if i != j:
                    seen.add((i, j) if i < j else (j, i))
    return seen


def customer_pairs(
    records: Sequence[CustomerRecord],
    *,
    min_score: float = MIN_SCORE,
    relevant: Callable[[CustomerRecord, CustomerRecord], bool] | None = None,
) -> list[Pair]:
    """Probable duplicate pairs among ``records``, best first.

    ``relevant(a, b)`` can skip pairs early (the importer only wants pairs that involve
    a record from the file).
    """
    pairs: list[Pair] = []
    for i, j in candidate_pairs(records):
        a, b = records[i], records[j]
        if relevant is not None and not relevant(a, b):
            continue
        reasons = _customer_reasons(a, b, min_score)
        score = _combine(reasons)
        if score >= min_score:
            pairs.append(Pair(a.key, b.key, score, tuple(sorted(reasons, key=lambda r: -reasons[r]))))
    pairs.sort(key=lambda p: (-p.score, str(p.a), str(p.b)))
    return pairs


def _customer_reasons(a: CustomerRecord, b: CustomerRecord, min_score: float) -> dict[str, float]:
    reasons: dict[str, float] = {}
    names_a = (a.normalized, *a.aliases)
    names_b = (b.normalized, *b.aliases)
    if a.normalized and a.normalized == b.normalized:
        reasons["same name"] = SAME_NAME
    elif set(names_a) & set(names_b) - {""}:
        reasons["same as a former name"] = SAME_NAME
    else:
        best = max(name_score(x, y) for x in names_a for y in names_b)
        if best >= min_score:
            reasons[f"similar name ({best:.0f}%)"] = best
    if a.domain and a.domain == b.domain and not is_free_email_domain(a.domain):
        reasons[f"same domain ({a.domain})"] = SAME_DOMAIN
    shared_emails = a.emails & b.emails
    if shared_emails:
        reasons[f"shared contact email ({min(shared_emails)})"] = SAME_EMAIL
    shared_phones = a.phones & b.phones
    if shared_phones:
        reasons[f"shared contact phone ({min(shared_phones)})"] = SAME_PHONE
    return reasons


def contact_pairs(records: Sequence[ContactRecord], *, min_score: float = MIN_SCORE) -> list[Pair]:
    """Probable duplicate contacts: same email or phone anywhere, or a close name at the same customer."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        if rec.email:
            blocks[f"e:{rec.email}"].append(i)
        if rec.phone:
            blocks[f"p:{rec.phone}"].append(i)
        toks = rec.normalized.split()
        if toks:
            blocks[f"c:{rec.customer_key}|{toks[0][:3]}"].append(i)
            blocks[f"c:{rec.customer_key}|z{toks[-1][:3]}"].append(i)
    seen: set[tuple[int, int]] = set()
    pairs: list[Pair] = []
    for key, members in blocks.items():
        exact = not key.startswith("c:")
        for i, j in _block_pairs(members, exact=exact, sort_key=lambda k: records[k].normalized):
            ij = (i, j) if i < j else (j, i)
            if ij in seen:
                continue
            seen.add(ij)
            a, b = records[ij[0]], records[ij[1]]
            reasons: dict[str, float] = {}
            if a.email and a.email == b.email:
                reasons[f"same email ({a.email})"] = SAME_EMAIL + 5
            if a.phone and a.phone == b.phone:
                reasons[f"same phone ({a.phone})"] = SAME_PHONE
            if a.customer_key == b.customer_key:
                s = name_score(a.normalized, b.normalized)
                if s >= min_score:
                    reasons["same name at the same customer" if s == 100 else f"similar name ({s:.0f}%)"] = s
            score = _combine(reasons)
            if score >= min_score:
                pairs.append(Pair(a.key, b.key, score, tuple(sorted(reasons, key=lambda r: -reasons[r]))))
    pairs.sort(key=lambda p: (-p.score, str(p.a), str(p.b)))
    return pairs


# -- the workspace report ------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerDuplicate:
    duplicate_id: int
    duplicate_name: str
    keeper_id: int
    keeper_name: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ContactDuplicate:
    first_id: int
    first: str  # "Jane Doe <jane@acme.com> at Acme"
    second_id: int
    second: str
    score: float
    reasons: tuple[str, ...]


@dataclass
class DuplicateReport:
    customers: list[CustomerDuplicate]
    contacts: list[ContactDuplicate]
    customers_checked: int
    contacts_checked: int


def _weights(session: Session, workspace_id: int) -> dict[int, int]:
    weights: dict[int, int] = defaultdict(int)
    for model in (Contact, Deal, Activity):
        rows = session.execute(
            select(model.customer_id, func.count())
            .where(model.workspace_id == workspace_id, model.deleted_at.is_(None))
            .group_by(model.customer_id)
        )
        for cid, n in rows:
            weights[cid] += n
    return weights


def load_customer_records(session: Session, workspace_id: int, *, with_weights: bool = True) -> list[CustomerRecord]:
    """Every live customer of the workspace, with former names and contact emails and phones."""
    records: dict[int, CustomerRecord] = {}
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.normalized_name, Customer.domain)
        .where(
            Customer.workspace_id == workspace_id,
            Customer.deleted_at.is_(None),
            Customer.merged_into_id.is_(None),
        )
        .order_by(Customer.id)
    )
    for cid, name, normalized, domain in rows:
        records[cid] = CustomerRecord(cid, name, normalized, domain)
    aliases: dict[int, list[str]] = defaultdict(list)
    for cid, normalized in session.execute(
        select(CustomerAlias.customer_id, CustomerAlias.normalized).where(CustomerAlias.workspace_id == workspace_id)
    ):
        aliases[cid].append(normalized)
    for cid, values in aliases.items():
        if cid in records:
            records[cid].aliases = tuple(values)
    for cid, email, phone in session.execute(
        select(Contact.customer_id, Contact.email, Contact.phone).where(
            Contact.workspace_id == workspace_id, Contact.deleted_at.is_(None)
        )
    ):
        rec = records.get(cid)
        if rec is None:
            continue
        if email:
            rec.emails.add(email)
        if phone:
            rec.phones.add(phone)
    if with_weights:
        for cid, weight in _weights(session, workspace_id).items():
            if cid in records:
                records[cid].weight = weight
    return list(records.values())


def keeper_of(a: CustomerRecord, b: CustomerRecord) -> tuple[CustomerRecord, CustomerRecord]:
    """(duplicate, keeper): keep the record with more linked data, else the older one."""
    if (b.weight, -_order(b)) > (a.weight, -_order(a)):
        return a, b
    return b, a


def _order(rec: CustomerRecord) -> int:
    return rec.key if isinstance(rec.key, int) else 1 << 62


def _row_id(key: Hashable) -> int:
    """A record loaded from the database is keyed by its row id."""
    if not isinstance(key, int):
        raise TypeError(f"expected a row id, got {key!r}")
    return key


def find_duplicates(sf: sessionmaker[Session], workspace_id: int, *, min_score: float = MIN_SCORE) -> DuplicateReport:
    """Probable duplicate customers (with a proposed keeper) and contacts in a workspace."""
    with sf() as session:
        customers = load_customer_records(session, workspace_id)
        contacts = [
            ContactRecord(cid, name, normalized, customer_id, email, phone)
            for cid, name, normalized, customer_id, email, phone in session.execute(
                select(
                    Contact.id, Contact.name, Contact.normalized_name, Contact.customer_id, Contact.email, Contact.phone
                )
                .join(Customer, Customer.id == Contact.customer_id)
                .where(
                    Contact.workspace_id == workspace_id,
                    Contact.deleted_at.is_(None),
                    Customer.deleted_at.is_(None),
                )
                .order_by(Contact.id)
            )
        ]
    by_id = {c.key: c for c in customers}
    customer_dups = []
    for pair in customer_pairs(customers, min_score=min_score):
        dup, keeper = keeper_of(by_id[pair.a], by_id[pair.b])
        customer_dups.append(
            CustomerDuplicate(_row_id(dup.key), dup.name, _row_id(keeper.key), keeper.name, pair.score, pair.reasons)
        )
    contact_by_id = {c.key: c for c in contacts}

    def describe(c: ContactRecord) -> str:
        parts = [c.name]
        if c.email:
            parts.append(f"<{c.email}>")
        company = by_id.get(c.customer_key)
        if company is not None:
            parts.append(f"at {company.name}")
        return " ".join(parts)

    contact_dups = [
        ContactDuplicate(
            _row_id(p.a),
            describe(contact_by_id[p.a]),
            _row_id(p.b),
            describe(contact_by_id[p.b]),
            p.score,
            p.reasons,
        )
        for p in contact_pairs(contacts, min_score=min_score)
    ]
    return DuplicateReport(customer_dups, contact_dups, len(customers), len(contacts))
