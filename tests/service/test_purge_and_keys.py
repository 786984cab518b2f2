"""`crm-bot purge` deletes one workspace's data for good, after a confirmation, in one transaction;
`crm-bot rotate-key` re-encrypts the stored tokens, and a missing old key ends cleanly."""

from __future__ import annotations

from dataclasses import replace

from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import func, select

from bot.cli_install import cmd_purge, cmd_rotate_key
from bot.installations import EncryptedInstallationStore, TokenCipher
from crm.models import Activity, Base, Customer, FollowUp, Workspace, slack_bots, slack_installations
from crm.workspaces import purge_counts
from tests.support.make import Make


def _count(services, model, ws: int | None = None) -> int:
    with services.session_factory() as s:
        query = select(func.count()).select_from(model)
        if ws is not None:
            query = query.where(model.workspace_id == ws)
        return s.scalar(query) or 0


def _fill(services, team: str) -> int:
    make = Make(services, team_id=team)
    acme = make.customer("Acme Corporation")
    merged = make.customer("Acme Corp Old")
    with services.session_factory.begin() as s:  # a merge leaves a self-reference behind
        s.get(Customer, merged.id).merged_into_id = acme.id
    make.contact(acme, "Rita Buyer")
    deal = make.deal(acme, "Renewal")
    make.activity(acme, deal=deal)
    make.follow_up(acme, deal=deal)
    return make.ws


def test_purge_asks_counts_and_deletes_only_that_workspace(services, capsys):
    gone, kept = _fill(services, "T0GONE"), _fill(services, "T0KEEP")
    counts = purge_counts(services.session_factory, "T0GONE")
    assert counts is not None and counts["customers"] == 2 and counts["follow_ups"] == 1

    assert cmd_purge(services.settings, "T0GONE", yes=False, ask=lambda _: "T0KEEP") == 1  # mistyped
    assert "Not confirmed; nothing deleted." in capsys.readouterr().out
    assert _count(services, Customer, gone) == 2

    assert cmd_purge(services.settings, "T0GONE", yes=False, ask=lambda _: "T0GONE") == 0
    out = capsys.readouterr().out
    assert f"{sum(counts.values())} rows would be deleted" in out and "customers: 2" in out
    for table in Base.metadata.sorted_tables:
        if "workspace_id" in table.c:
            with services.engine.connect() as conn:
                left = conn.scalar(select(func.count()).select_from(table).where(table.c.workspace_id == gone))
            assert left == 0, table.name
    with services.session_factory() as s:
        purged = s.scalars(select(Workspace).where(Workspace.team_id == "T0GONE")).one()
        assert purged.uninstall_reason == "purged" and purged.settings == {} and purged.search_version > 0
    assert services.bot_token(gone) is None  # nothing is sent there any more
    for model in (Customer, Activity, FollowUp):
        assert _count(services, model, kept) >= 1
    assert cmd_purge(services.settings, "T0GONE", yes=True) == 0  # nothing left to purge
    assert "holds no data" in capsys.readouterr().out
    assert cmd_purge(services.settings, "T0NEVER", yes=True) == 1


def _install(services, key: str, team: str) -> None:
    inner = SQLAlchemyInstallationStore(client_id="1111.2222", engine=services.engine)
    store = EncryptedInstallationStore(inner, TokenCipher([key]))
    store.save(
        Installation(
            app_id="A0APP", team_id=team, user_id="U0ADMIN", bot_token=f"xoxb-{team}", bot_id="B0", bot_user_id="U0BOT"
        )
    )


def _stored(services) -> list[str]:
    with services.engine.connect() as conn:
        return [r for t in (slack_installations, slack_bots) for r in conn.scalars(select(t.c.bot_token))]


def test_rotate_key_reencrypts_with_the_new_key_and_a_missing_key_changes_nothing(services, capsys):
    old, new, stray = (Fernet.generate_key().decode() for _ in range(3))
    _install(services, old, "T0AAA")
    before = _stored(services)

    missing = replace(services.settings, secret_keys=(new,))  # the old key was dropped too early
    assert cmd_rotate_key(missing) == 1
    assert "nothing was changed" in capsys.readouterr().err
    assert _stored(services) == before

    rolled = replace(services.settings, secret_keys=(new, old))  # new first, old still opens
    assert cmd_rotate_key(rolled) == 0
    assert "Re-encrypted 2 stored tokens" in capsys.readouterr().out
    after = _stored(services)
    assert after != before and {TokenCipher([new]).open(t) for t in after} == {"xoxb-T0AAA"}
    inner = SQLAlchemyInstallationStore(client_id="1111.2222", engine=services.engine)
    only_new = EncryptedInstallationStore(inner, TokenCipher([new]))
    found = only_new.find_installation(enterprise_id=None, team_id="T0AAA")
    assert found is not None and found.bot_token == "xoxb-T0AAA"
    # With none of the keys, the installation reads as missing (Bolt answers "reinstall"), not as an error.
    assert EncryptedInstallationStore(inner, TokenCipher([stray])).find_bot(enterprise_id=None, team_id="T0AAA") is None
