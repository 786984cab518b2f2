"""``crm-bot purge`` and ``crm-bot rotate-key``: the operator's verbs for many-workspace installs.

* ``purge --team T…`` deletes one workspace's data for good, after showing what goes and asking for
  the team id to be typed again (or ``--yes``), in one transaction.
* ``rotate-key`` re-encrypts every stored Slack token with the first key of ``CRM_SECRET_KEY``, so the
  old keys can then be dropped from it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bot.config import ConfigError, Settings

SUMMARIES = {
    "purge": "delete one workspace's data for good (after a confirmation)",
    "rotate-key": "re-encrypt the stored Slack tokens with the first key of CRM_SECRET_KEY",
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    purge = sub.add_parser("purge", help=SUMMARIES["purge"])
    purge.add_argument("--team", required=True, help="the workspace's Slack team id (T…)")
    purge.add_argument("--yes", action="store_true", help="don't ask: delete at once")
    sub.add_parser("rotate-key", help=SUMMARIES["rotate-key"])


def cmd_purge(settings: Settings, team: str, *, yes: bool, ask: Callable[[str], str] = input) -> int:
    from bot.services import Services
    from crm.workspaces import purge_counts, purge_workspace

    services = Services.from_settings(settings)
    try:
        services.migrate()
        counts = purge_counts(services.session_factory, team)
        if counts is None:
            print(f"crm-bot: no workspace has team id {team}; nothing deleted.", file=sys.stderr)
            return 1
        if not counts:
            print(f"Workspace {team} holds no data; nothing to delete.")
            return 0
        total = sum(counts.values())
        print(f"Workspace {team}: {total} rows would be deleted for good:")
        for table, n in sorted(counts.items()):
            print(f"  {table}: {n}")
        if not yes:
            typed = ask(f"Type the team id ({team}) to delete them: ").strip()
            if typed != team:
                print("Not confirmed; nothing deleted.")
                return 1
        deleted = purge_workspace(services.session_factory, team, now=services.now())
        print(
            f"Deleted {sum(deleted.values())} rows of workspace {team}. Only its team id is kept, marked purged, "
            "so nothing is sent there and running replicas drop what they had in memory."
        )
        return 0
    finally:
        services.close()


def cmd_rotate_key(settings: Settings) -> int:
    from bot.installations import KeyMissing, TokenCipher, rotate_keys
    from crm.db import make_engine

    if not settings.secret_keys:
        raise ConfigError("CRM_SECRET_KEY is not set: there are no keys to re-encrypt the stored tokens with.")
    engine = make_engine(settings.database_url)
    try:
        count = rotate_keys(engine, TokenCipher(settings.secret_keys))
    except KeyMissing:
        print(
            "crm-bot: a stored token opens with none of the keys in CRM_SECRET_KEY, so nothing was changed: "
            "put the key it was encrypted with back at the end of CRM_SECRET_KEY and run this again.",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    print(f"Re-encrypted {count} stored tokens with the first key of CRM_SECRET_KEY; the other keys may go now.")
    return 0
