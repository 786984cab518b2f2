"""Reading `/crm accounts tier:A owner:@rita stage:customer industry:"Financial services" quiet:30`.

Words of the form ``name:value`` are filters (a value with spaces goes in quotes); ``tier``,
``owner``, ``stage``, ``industry``, ``quiet`` and ``page`` are built in, any other name is a
customer custom field (its key or label). Other words are part of the customer's name. Anything
that can't be read raises :class:`crm.errors.InvalidInput` with a sentence saying how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm.accounts import MAX_DAYS, MAX_VALUE_CHARS, NO_TIER, AccountFilter
from crm.errors import InvalidInput
from crm.slack_ids import SLACK_USER_MENTION, is_user_id
from crm.value import TIERS

MAX_TEXT = 1000
MAX_FILTERS = 12
USAGE = (
    "Filter with `tier:A` (or `tier:A,B`), `owner:@someone` (or `owner:me`), `stage:customer`, "
    '`industry:"Financial services"`, `quiet:30` (no activity in 30 days), or a customer field such as '
    "`region:EMEA`; `page:2` for the next page. Example: `/crm accounts tier:A quiet:30`."
)
ALIASES = {
    "tier": "tier",
    "tiers": "tier",
    "owner": "owner",
    "rep": "owner",
    "stage": "stage",
    "lifecycle": "stage",
    "industry": "industry",
    "quiet": "quiet",
    "untouched": "quiet",
    "idle": "quiet",
    "page": "page",
}
_WORD = re.compile(r"""(?P<key>[\w-]{1,64}):(?!//)(?:"(?P<dq>[^"]*)"?|“(?P<cq>[^”]*)”?|(?P<bare>\S*))|(?P<word>\S+)""")
_DAYS = re.compile(r"(\d{1,6})\s*(?:d|days?)?", re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    filters: AccountFilter
    page: int = 1


def _tiers(value: str) -> tuple[str, ...]:
    letters = [p for p in re.split(r"[,\s/|+]+", value.strip().upper()) if p]
    if len(letters) == 1 and len(letters[0]) > 1 and set(letters[0]) <= set(TIERS):
        letters = list(letters[0])  # "tier:AB"
    out: list[str] = []
    for letter in letters:
        tier = NO_TIER if letter.lower() == NO_TIER else letter
        if tier not in (*TIERS, NO_TIER):
            raise InvalidInput(f"“{letter[:20]}” isn't a tier. Tiers are A, B and C (or `none`): `tier:A`.")
        if tier not in out:
            out.append(tier)
    if not out:
        raise InvalidInput("Say which tier: `tier:A`, `tier:B`, `tier:C` or `tier:A,B`.")
    return tuple(out)


def _owner(value: str, asker: str) -> str:
    if value.strip().lower() in ("me", "mine", "myself"):
        return asker
    found = SLACK_USER_MENTION.fullmatch(value.strip())
    if found:
        return found.group(1)
    if is_user_id(value.strip()):
        return value.strip()
    raise InvalidInput("Name the owner with an @-mention, such as `owner:@rita`, or use `owner:me`.")


def _days(value: str) -> int:
    found = _DAYS.fullmatch(value.strip())
    if not found or int(found.group(1)) > MAX_DAYS:
        raise InvalidInput(f"Give the quiet days as a number up to {MAX_DAYS:,}, such as `quiet:30`.")
    return int(found.group(1))


def parse(text: str, *, asker: str) -> Query:
    """The filters and the page; ``asker`` is the user id ``owner:me`` stands for."""
    text = " ".join((text or "").split())
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"That's too long to be a filter ({len(text):,} characters). {USAGE}")
    values: dict[str, object] = {}
    custom: list[tuple[str, str]] = []
    words: list[str] = []
    page = 1
    count = 0
    for m in _WORD.finditer(text):
        if m["word"] is not None:
            words.append(m["word"])
            continue
        count += 1
        if count > MAX_FILTERS:
            raise InvalidInput(f"That's more than {MAX_FILTERS} filters; use fewer.")
        key = m["key"].lower()
        value = next(v for v in (m["dq"], m["cq"], m["bare"]) if v is not None).strip()
        if not value:
            raise InvalidInput(f"`{key[:30]}:` needs a value after the colon. {USAGE}")
        value = re.sub(r'["“”]', "", value)[:MAX_VALUE_CHARS]
        which = ALIASES.get(key)
        if which == "tier":
            values["tiers"] = _tiers(value)
        elif which == "owner":
            values["owner"] = _owner(value, asker)
        elif which == "stage":
            values["lifecycle"] = value
        elif which == "industry":
            values["industry"] = value
        elif which == "quiet":
            values["quiet_days"] = _days(value)
        elif which == "page":
            if not value.isdigit() or not 1 <= int(value) <= 100_000:
                raise InvalidInput("Give the page as a number, such as `page:2`.")
            page = int(value)
        else:
            custom.append((m["key"][:64], value))
    name = " ".join(words)[:MAX_VALUE_CHARS] or None
    return Query(AccountFilter(custom=tuple(custom), name=name, **values), page)  # type: ignore[arg-type]


def unparse(f: AccountFilter) -> str:
    """The filter as `/crm accounts` text again (for the page buttons)."""
    parts = []
    if f.tiers:
        parts.append("tier:" + ",".join(f.tiers))
    if f.owner:
        parts.append(f"owner:{f.owner}")
    for key, value in (("stage", f.lifecycle), ("industry", f.industry)):
        if value:
            parts.append(f'{key}:"{value}"')
    if f.quiet_days is not None:
        parts.append(f"quiet:{f.quiet_days}")
    parts += [f'{k}:"{v}"' for k, v in f.custom]
    if f.name:
        parts.append(f.name)
    return " ".join(parts)
