"""In-memory fuzzy customer search for one workspace (pure: no database, no Slack).

Used by ``/customer <query>``, the customer pickers in modals and the duplicate
guard. Build one :class:`CustomerIndex` per workspace from the database at
start-up, keep it current with :meth:`CustomerIndex.add` / :meth:`CustomerIndex.remove`
when customers change, and ask it with :meth:`CustomerIndex.search`.

How a search works
------------------
1. **Exact keys.** Emails in the query are looked up in an email table and, unless
   they are free-mail addresses (gmail.com, ...), their domain in a domain table;
   URLs and bare domains (``acme.co.uk``) go to the domain table too.
2. **Candidates from tokens.** The query is normalised like a name
   (:func:`crm.normalize.name_tokens`). Each query token is expanded against the
   vocabulary of all indexed tokens: the exact token, vocabulary tokens it is a
   prefix of (typeahead), tokens within one or two edits (typos, found through a
   character-trigram index over the vocabulary and checked with an
   optimal-string-alignment distance), and split/joined forms ("salesforce" /
   "sales force"). Postings of the expanded tokens give candidate customers,
   weighted by how rare each token is. Very common tokens only re-rank
   candidates found by rarer ones, and every step is capped, so the cost does
   not grow with the number of customers the way a full scan does.
3. **Scoring.** The best few hundred candidates are scored with rapidfuzz against
   their normalised name, aliases, contact names and domain (see
   :func:`_text_score`), and each customer keeps its best match.

Scores run 0..100; **100 is reserved for exact hits**: equal normalised name or
alias, or an exact email or website domain. See :func:`classify` for how scores
become "winner" / "ambiguous" / "none".

Memory
------
Everything is kept in flat structures: each customer is one UTF-8 record in a
shared ``bytearray`` (offsets in ``array('q')``); token postings are
``array('i')`` of internal slot numbers (a plain ``int`` while a token has one
posting); emails, domains and customer ids live in open-addressing hash tables
made of two arrays. A million customers take a few hundred MB (see
``bench/bench_lookup.py``). Removing or replacing a customer only marks its slot
dead; the index rebuilds itself when more than half the slots are dead.

Thread-safety
-------------
One :class:`threading.Lock` per index guards every read and write, so searches
from many threads and a writer calling ``add``/``remove`` never see a half-made
entry. Searches are therefore serialised; they are CPU-bound Python holding the
GIL anyway, so a readers-writer lock would not make them faster. ``add`` holds
the lock for microseconds; the occasional self-rebuild holds it for as long as
re-indexing takes (about a second per 100k live customers).
"""

from crm.search.index import MAX_QUERY_CHARS, MAX_QUERY_TOKENS, MAX_TEXT_CHARS, CustomerIndex
from crm.search.scoring import AMBIGUOUS_MIN_SCORE, WINNER_MARGIN, WINNER_MIN_SCORE, Match, classify

__all__ = [
    "AMBIGUOUS_MIN_SCORE",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TOKENS",
    "MAX_TEXT_CHARS",
    "WINNER_MARGIN",
    "WINNER_MIN_SCORE",
    "CustomerIndex",
    "Match",
    "classify",
]
