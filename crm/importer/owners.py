"""Owners: the old CRM's users become Slack users, by a mapping file or by email; never guessed.

An owner cell holds whatever the old CRM exported: a Salesforce user id (``0055g00000AbCdE``),
a HubSpot or Pipedrive user's name or email, or a Slack user id. It becomes a Slack user id by,
in order:

1. being a Slack user id already (``U0123ABCD``);
2. the ``--owners`` mapping file: old id, email or name -> Slack user id (case ignored);
3. an email address that Slack knows (``users.lookupByEmail``, passed in by the caller as
   ``lookup``: ``crm/`` never talks to Slack itself).

Anything else stays unowned, and the report lists each unmapped owner with its row count.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from crm.errors import InvalidInput
from crm.slack_ids import is_user_id

Lookup = Callable[[str], str | None]  # email -> Slack user id, or None when Slack has no such user
MAX_MAPPING_ROWS = 100_000
NOT_MAPPED = ""


def read_owner_mapping(path: Path) -> dict[str, str]:
    """``--owners mapping.csv``: two columns, old owner (id, email or name) and Slack user id.

    A header row is allowed (a second cell that is no Slack user id is taken for one).
    Raises InvalidInput with the line of the first bad row.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise InvalidInput(f"--owners {path}: can't be read ({err.strerror}).") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--owners {path}: is not UTF-8 text; save it as CSV UTF-8.") from None
    mapping: dict[str, str] = {}
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    for line, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line > MAX_MAPPING_ROWS:
            raise InvalidInput(f"--owners {path}: more than {MAX_MAPPING_ROWS:,} rows; is it the right file?")
        if len(cells) < 2 or not cells[0]:
            raise InvalidInput(f"--owners {path} line {line}: give two columns, the old owner and a Slack user id.")
        old, slack = cells[0], cells[1]
        if not is_user_id(slack):
            if line == 1:
                continue  # a header
            raise InvalidInput(f"--owners {path} line {line}: “{slack[:40]}” is not a Slack user id such as U0123ABCD.")
        mapping[old.casefold()] = slack
    return mapping


class Owners:
    """Resolves owner cells for one import, asking ``lookup`` at most once per email."""

    def __init__(self, mapping: dict[str, str], lookup: Lookup | None) -> None:
        self.mapping = mapping
        self.lookup = lookup
        self._cache: dict[str, str | None] = {}

    def resolve(self, text: str, counts: Counter[tuple[str, str]]) -> str | None:
        """The Slack user id for ``text`` ("" -> None); counts (text, user id or "") per row."""
        if not text:
            return None
        found = self._cache.get(text, NOT_MAPPED)
        if found == NOT_MAPPED:
            found = self._cache[text] = self._find(text)
        counts[(text, found or NOT_MAPPED)] += 1
        return found

    def _find(self, text: str) -> str | None:
        if is_user_id(text):
            return text
        mapped = self.mapping.get(text.casefold())
        if mapped is not None:
            return mapped
        if "@" in text and self.lookup is not None:
            return self.lookup(text.strip().lower())
        return None
