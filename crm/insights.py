"""Who has talked to a customer, and which customers a piece of free text names.

Plain functions and in-memory indexes; nothing here imports Slack.

* :func:`who_talked` summarises, per rep, the live activities logged with one customer
  (counts by type, last touch, contacts dealt with), with SQL aggregates.
* :class:`NameDictionary` finds customer names inside free text ("Had a call with Acme
  Robotics about the renewal"): a dictionary of normalised names, scanned with the text's
  token n-grams (1..6 tokens). The cost grows with the length of the text, not with the
  number of customers. :class:`MentionRegistry` keeps one dictionary per workspace and
  refreshes it like :class:`crm.lookup.SearchRegistry` (a version check on
  ``workspaces.search_version``).
* :func:`customers_in_text` combines names with the emails and domains in the text (looked
  up exactly in the search index).
* :func:`claim_delivery` records a Slack delivery as handled, once across all replicas.

Matching free text is deliberately strict: whole words only, and the normalised words
of a name must appear in order (``normalize_name``: case, accents, "&"/"and", legal forms
such as "Inc" or "GmbH" and a leading "The" do not matter). On top of that, a name that
could just be ordinary English needs more evidence (see :meth:`NameDictionary.find`):

* a name made only of **common English words** (:data:`COMMON_WORDS`, e.g. "Apple",
  "Summit", "Blue Sky") or of one short token (at most 2 characters, e.g. "GE") must be
  written with a capital letter, and must not follow an article or determiner ("a",
  "an", "some", ...): "Apple renewed" and "the Apple deal" name the customer, "an apple"
  and "apple pie" do not;
* a one-word name that is a **function word** (:data:`STOPWORDS`, e.g. "On", "It") is
  never taken from free text; ask for it by name (``/crm who on``) instead.

Names of more than :data:`MAX_NGRAM` normalised tokens, and names in scripts written
without spaces (Chinese, Japanese), are not found inside free text; they are still found
by a direct question, which uses the fuzzy search.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Row, desc, func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.customers import live_customer
from crm.lookup import SearchRegistry, WorkspaceCache
from crm.models import EVENT_KEY, Activity, ActivityParticipant, Contact, Customer, CustomerAlias, ProcessedEvent
from crm.normalize import extract_domain, extract_emails, is_free_email_domain, is_valid_domain, name_tokens

log = logging.getLogger(__name__)

MAX_NGRAM = 6  # names of up to this many normalised tokens are found in free text
MAX_TEXT_CHARS = 20_000  # longer texts are cut (a Slack message holds 40,000 at most)
MAX_MENTIONS = 25  # distinct customers reported from one text, at most
EXACT_KEY_SCORE = 95.0  # email / domain matches from the search index at least this good count

# Function words: a one-word customer name equal to one of these is never found in free text.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves also let lets us via per re hi hey ok okay yes thanks thank please
    cc fyi asap eod tbd
    """.split()
)

# Everyday English words that are also plausible company names. A name made only of these
# needs a capitalised mention with no article before it. Extend as customers show up.
COMMON_WORDS = frozenset(
    """
    able access account accounts act action active ad add address advance advantage advice agency agent
    air alliance alpha alpine amazon anchor angel apex apple arc arch area arrow art ascent atlas
    atlantic aura autumn avenue award axis back balance band bank base basic basin bay beacon beam bear
    bee bell best beta better big birch bird black blade blaze block bloom blue board boat bold bolt bond
    book boost border bottom box branch brand brave bread bridge bright broad brook brown build builder
    bull business buy cable cafe call camp canal candle capital car card care cargo carbon cart case
    cash castle cat cedar center central chain chair challenge champion change channel chapter charge
    chart check chief choice circle city civic clean clear cliff climb clinic clock cloud club coast
    coastal code coffee coin cold collective comfort common community compass complete concept connect
    contact continental contract cool copper core corner cost cottage country county craft crane create
    creative credit crest cross crown crystal cube culture cup current curve custom cycle daily dash data
    dawn day deal deep delta design desk digital direct discovery dock dog door dot double dove draft
    dragon dream drive drop dune dynamic eagle early earth east eastern echo edge element elite ember
    empire energy engine equal essential ever evergreen evolve exact express fair faith falcon fall
    family farm fast field figure film final finance fine fire first fish fit flag flash fleet flex
    flight flow flower fly focus food force forest forge form fortune forward fountain fox frame free
    fresh friend front frontier fuel fun fusion future galaxy game garden gate gateway gear gem general
    genesis giant gift glacier glass global globe goal gold golden good grace grain grand granite graph
    great green grid ground group grove growth guard guide gulf hall harbor harbour harmony harvest hawk
    head health heart heat heritage hero high highland hill hive hold home honey hope horizon host hot
    house hub idea image impact independent index infinite insight island ivy jet journey joy jump
    jungle key keystone kind king kite lab lake land landmark laser launch leaf lead leader legacy legend
    level liberty life light lime line link lion liquid little live local lodge logic long loop lotus
    love loyal lucky lunar magic main major maple market marine mark master matrix meadow media
    meridian mesa metro metric micro mill mind mint mirror mission modern momentum monday money moon
    motion mountain move national native nature navy nest net network new next noble north northern
    nova oak ocean office old olive omega one open optimal optimum orange orbit order origin outdoor
    pacific page palm paper park partner path patriot peak pearl people phoenix pilot pine pinnacle
    pioneer pixel place plan planet plant platinum play plaza plus point polar port post power premier
    premium press prime pro progress prospect pulse pure purple quest quick radiant rain rainbow range
    rapid raven ray ready real red reef regal reliable relay ridge right ring rise river road rock
    rocket root rose round royal ruby rush safe sage sail salt sand scale school scout sea seed select
    sequoia service seven shadow share sharp shell shield shift shine ship shore signal silver simple
    sky slate smart snow solar solid sound source south southern space spark spectrum sphere spire
    spirit spring spruce square stack standard star state steel step sterling stone storm story stream
    street strong studio style summit sun sunrise sunset super supply sure swift system table talent
    target team tech terra thrive tide tiger timber time titan top total tower town trade trail trans
    travel tree trend tribe trinity triumph true trust truth turn twin union unique united unity urban
    valley value vanguard vector velocity venture vertex view village vision vista vital vivid voice
    wave way web west western white wild willow wind window wing wise wolf wonder wood work works world
    yellow young zen zenith zero zone zoom
    """.split()
)

# Words that, right before a common-word name, say it is being used as an ordinary word.
ARTICLES = frozenset("a an some any another every each no this that these those my your our their".split())

_POSSESSIVE = re.compile(r"(?:'|’)s$", re.IGNORECASE)
_EDGE_PUNCT = "\"'“”‘’«»()[]{}<>*_~`.,;:!?¿¡…"


# ---------------------------------------------------------------------------------------------
# Who has talked to a customer
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepSummary:
    """One rep's activities with a customer."""

    rep: str  # ``activities.created_by``: a Slack user id (or "import" / "system")
    total: int
    by_type: tuple[tuple[str, int], ...]  # (type key, count), most first
    last_at: datetime
    last_type: str
    last_summary: str
    contacts: tuple[str, ...]  # contact names, most recently dealt with first
    contact_count: int  # all distinct contacts, even those not in ``contacts``


@dataclass(frozen=True)
class WhoTalked:
    customer_id: int
    customer_name: str
    owner_user_id: str | None
    reps: list[RepSummary]  # the most recent ``limit``, most recent last touch first
    rep_count: int  # every rep with an activity
    activity_count: int

    @property
    def more_reps(self) -> int:
        return self.rep_count - len(self.reps)


def who_talked(
    sf: sessionmaker[Session],
    workspace_id: int,
    customer_id: int,
    *,
    limit: int = 15,
    contacts_per_rep: int = 5,
) -> WhoTalked:
    """Per rep: counts by type, last touch and contacts, for a customer (merges followed).

    Raises :class:`crm.errors.NotFound` when the customer is gone.
    """
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        live = (
            Activity.workspace_id == workspace_id,
            Activity.customer_id == customer.id,
            Activity.deleted_at.is_(None),
        )
        # Who is credited with an activity: whoever logged it, and the people in a logged thread.
        credited = union(
            select(Activity.id.label("activity_id"), Activity.created_by.label("rep")).where(*live),
            select(ActivityParticipant.activity_id, ActivityParticipant.user_id)
            .join(Activity, Activity.id == ActivityParticipant.activity_id)
            .where(*live),
        ).subquery()
        rep_of = credited.c.rep
        on_activity = Activity.id == credited.c.activity_id
        per_type = session.execute(
            select(rep_of, Activity.type_key, func.count(), func.max(Activity.occurred_at))
            .join_from(credited, Activity, on_activity)
            .group_by(rep_of, Activity.type_key)
        ).all()
        counts: dict[str, list[tuple[str, int]]] = defaultdict(list)
        latest: dict[str, datetime] = {}
        for rep, type_key, count, at in per_type:
            counts[rep].append((type_key, count))
            if rep not in latest or at > latest[rep]:
                latest[rep] = at
        totals = {rep: sum(n for _, n in types) for rep, types in counts.items()}
        order = sorted(latest, key=lambda r: (-latest[r].timestamp(), -totals[r], r))
        shown = order[: max(0, limit)]
        last_rows: dict[str, tuple[str, str, datetime]] = {}
        contacts: dict[str, list[str]] = defaultdict(list)
        contact_counts: dict[str, int] = defaultdict(int)
        if shown:
            rank = (
                func.row_number()
                .over(partition_by=rep_of, order_by=(Activity.occurred_at.desc(), Activity.id.desc()))
                .label("rank")
            )
            ranked = (
                select(rep_of.label("rep"), Activity.type_key, Activity.summary, Activity.occurred_at, rank)
                .join_from(credited, Activity, on_activity)
                .where(rep_of.in_(shown))
                .subquery()
            )
            for rep, type_key, summary, at, _ in session.execute(select(ranked).where(ranked.c.rank == 1)):
                last_rows[rep] = (type_key, summary, at)
            last_seen = func.max(Activity.occurred_at).label("last_seen")
            for rep, name, _ in session.execute(
                select(rep_of, Contact.name, last_seen)
                .join_from(credited, Activity, on_activity)
                .join(Contact, Contact.id == Activity.contact_id)
                .where(rep_of.in_(shown))
                .group_by(rep_of, Contact.id, Contact.name)
                .order_by(desc(last_seen), Contact.name)
            ):
                contact_counts[rep] += 1
                if len(contacts[rep]) < contacts_per_rep and name not in contacts[rep]:
                    contacts[rep].append(name)
        activity_count = session.scalar(select(func.count()).select_from(Activity).where(*live)) or 0
        reps = []
        for rep in shown:
            type_key, summary, at = last_rows.get(rep, ("", "", latest[rep]))
            reps.append(
                RepSummary(
                    rep=rep,
                    total=totals[rep],
                    by_type=tuple(sorted(counts[rep], key=lambda kv: (-kv[1], kv[0]))),
                    last_at=at,
                    last_type=type_key,
                    last_summary=summary,
                    contacts=tuple(contacts.get(rep, ())),
                    contact_count=contact_counts.get(rep, 0),
                )
            )
        return WhoTalked(
            customer_id=customer.id,
            customer_name=customer.name,
            owner_user_id=customer.owner_user_id,
            reps=reps,
            rep_count=len(order),
            activity_count=activity_count,
        )


# ---------------------------------------------------------------------------------------------
# Customer names inside free text
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mention:
    """A customer named in a text, and how."""

    customer_id: int
    matched: str  # the words as written (or the email / domain)
    how: str  # "name" | "email" | "domain"


@dataclass(frozen=True)
class _Token:
    norm: str
    chunk: int  # index of the whitespace-separated word it came from
    first: bool  # first token of that word
    word: str  # the word as written, without edge punctuation


@lru_cache(maxsize=50_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    return tuple(name_tokens(word))


def text_tokens(text: str) -> list[_Token]:
    """The text's words, normalised one by one like names (``name_tokens``).

    Emails, URLs and bare domains are skipped: they are looked up whole, as emails and domains.
    """
    tokens: list[_Token] = []
    for i, raw in enumerate(text[:MAX_TEXT_CHARS].split()):
        word = _POSSESSIVE.sub("", raw.strip(_EDGE_PUNCT))
        if "@" in word or "/" in word or ("." in word and is_valid_domain(word.lower())):
            continue
        for k, norm in enumerate(_word_tokens(word)):
            tokens.append(_Token(norm, i, k == 0, word))
    return tokens


def _key_needs(key: str) -> str:
    """What a normalised name needs to be found in free text: "any", "capital" or "never"."""
    words = key.split(" ")
    if len(words) == 1 and key in STOPWORDS:
        return "never"
    if all(w in COMMON_WORDS or w in STOPWORDS for w in words) or (len(words) == 1 and len(key) <= 2):
        return "capital"
    return "any"


class NameDictionary:
    """Normalised customer names (and aliases) → customer ids, scanned with text n-grams."""

    def __init__(self) -> None:
        self._ids: dict[str, int | tuple[int, ...]] = {}
        self._keys: dict[int, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, customer_id: int, normalized_names: Iterable[str]) -> None:
        """Index a customer under its normalised names, replacing what it had."""
        keys = tuple(dict.fromkeys(k for k in normalized_names if k and len(k.split(" ")) <= MAX_NGRAM))
        with self._lock:
            self._remove_locked(customer_id)
            if not keys:
                return
            self._keys[customer_id] = keys
            for key in keys:
                held = self._ids.get(key)
                if held is None:
                    self._ids[key] = customer_id
                elif isinstance(held, int):
                    self._ids[key] = (held, customer_id)
                else:
                    self._ids[key] = (*held, customer_id)

    def remove(self, customer_id: int) -> None:
        with self._lock:
            self._remove_locked(customer_id)

    def _remove_locked(self, customer_id: int) -> None:
        for key in self._keys.pop(customer_id, ()):
            held = self._ids.get(key)
            if held == customer_id:
                del self._ids[key]
            elif isinstance(held, tuple):
                rest = tuple(c for c in held if c != customer_id)
                self._ids[key] = rest[0] if len(rest) == 1 else rest

    def find(self, text: str, *, relaxed: bool = False) -> list[Mention]:
        """Customers whose name appears in ``text`` as whole words, in order of appearance.

        Left to right, the longest name wins at each position ("Acme Robotics" rather than
        "Acme"), and the words it covers are not looked at again. ``relaxed`` (for text that is
        meant to be a name, like the end of "who's talked to apple?") lifts the capital-letter
        and article rules; function words are still never taken alone.
        """
        tokens = text_tokens(text)
        found: dict[int, Mention] = {}
        i = 0
        with self._lock:
            while i < len(tokens) and len(found) < MAX_MENTIONS:
                hit = None
                for n in range(min(MAX_NGRAM, len(tokens) - i), 0, -1):
                    key = " ".join(t.norm for t in tokens[i : i + n])
                    held = self._ids.get(key)
                    if held is not None and self._confident(key, tokens, i, relaxed):
                        hit = (n, held)
                        break
                if hit is None:
                    i += 1
                    continue
                n, held = hit
                words = dict.fromkeys(t.word for t in tokens[i : i + n])
                for cid in (held,) if isinstance(held, int) else held:
                    found.setdefault(cid, Mention(cid, " ".join(words), "name"))
                i += n
        return list(found.values())

    @staticmethod
    def _confident(key: str, tokens: list[_Token], i: int, relaxed: bool) -> bool:
        needs = _key_needs(key)
        if needs == "any":
            return True
        if needs == "never":
            return False
        if relaxed:
            return True
        first = tokens[i]
        if not first.first or not first.word[:1].isupper():
            return False
        previous = tokens[i - 1] if i else None
        if previous is None or previous.chunk != first.chunk - 1:
            return True  # nothing (or only punctuation or emoji) right before it
        return previous.word.casefold() not in ARTICLES


class MentionRegistry(WorkspaceCache[NameDictionary]):
    """One :class:`NameDictionary` per workspace, kept in step with the database.

    Built from the stored normalised names (``customers.normalized_name`` and
    ``customer_aliases.normalized``), so building needs no normalising; refreshed like the
    search index (:class:`crm.lookup.WorkspaceCache`).
    """

    what = "name dictionary"

    def empty(self) -> NameDictionary:
        return NameDictionary()

    def names(self, workspace_id: int, *, force_check: bool = False) -> NameDictionary:
        return self.get(workspace_id, force_check=force_check)

    def apply(self, session: Session, value: NameDictionary, rows: Sequence[Row]) -> None:
        live = [r.id for r in rows if r.deleted_at is None and r.merged_into_id is None]
        aliases: dict[int, list[str]] = defaultdict(list)
        if live:
            for cid, normalized in session.execute(
                select(CustomerAlias.customer_id, CustomerAlias.normalized).where(CustomerAlias.customer_id.in_(live))
            ):
                aliases[cid].append(normalized)
        for r in rows:
            if r.deleted_at is not None or r.merged_into_id is not None:
                value.remove(r.id)
            else:
                value.add(r.id, [r.normalized_name, *aliases.get(r.id, ())])


@dataclass(frozen=True)
class CustomerRef:
    id: int
    name: str
    matched: str
    how: str


def customers_in_text(
    sf: sessionmaker[Session],
    mentions: MentionRegistry,
    search: SearchRegistry,
    workspace_id: int,
    text: str,
    *,
    relaxed: bool = False,
) -> list[CustomerRef]:
    """The live customers ``text`` names (whole-word names, emails, domains), first named first."""
    text = (text or "")[:MAX_TEXT_CHARS]
    found: dict[int, Mention] = {}
    for m in mentions.names(workspace_id).find(text, relaxed=relaxed):
        found.setdefault(m.customer_id, m)
    emails = extract_emails(text)
    probes = emails[:10]
    domain = extract_domain(text)
    if domain and not is_free_email_domain(domain) and all(not e.endswith("@" + domain) for e in emails):
        probes.append(domain)
    for probe in probes:
        for match in search.search(workspace_id, probe, limit=5):
            if match.kind in ("email", "domain") and match.score >= EXACT_KEY_SCORE:
                found.setdefault(match.customer_id, Mention(match.customer_id, probe, match.kind))
    if not found:
        return []
    ids = list(found)[:MAX_MENTIONS]
    with sf() as session:
        names = dict(
            session.execute(
                select(Customer.id, Customer.name).where(
                    Customer.workspace_id == workspace_id,
                    Customer.id.in_(ids),
                    Customer.deleted_at.is_(None),
                    Customer.merged_into_id.is_(None),
                )
            ).all()
        )
    return [CustomerRef(cid, names[cid], found[cid].matched, found[cid].how) for cid in ids if cid in names]


# ---------------------------------------------------------------------------------------------
# Deliveries handled once
# ---------------------------------------------------------------------------------------------
def claim_delivery(sf: sessionmaker[Session], workspace_id: int, *keys: str) -> bool:
    """Record Slack deliveries as handled; True only for the first caller, on any replica.

    Every key is inserted in one transaction into ``processed_events`` (unique per
    workspace), so a retried or duplicated delivery that shares any key with one already
    claimed gets False. Claim before answering; only the claimant answers.
    """
    if not keys:
        raise ValueError("claim_delivery needs at least one key")
    try:
        with sf.begin() as session:
            for key in dict.fromkeys(keys):
                session.add(ProcessedEvent(workspace_id=workspace_id, event_key=key[:EVENT_KEY]))
        return True
    except IntegrityError:
        return False
