"""Merging duplicate contacts from `/crm duplicates`, end to end: signed block_actions against the
running app, answers read from the stand-in (which checks every payload's Block Kit)."""

from __future__ import annotations

from sqlalchemy import func, select

from commands.duplicates import views
from crm import customers as svc
from crm.models import Activity, AuditEntry, Contact
from tests.conftest import ADMIN, REP
from tests.slack.test_customers_hostile import at_once, nothing_went_wrong, recorded_payload
from tests.support.hostile import mrkdwn_in


def _replies(standin, count: int) -> list[dict]:
    return [c.params for c in standin.wait_for("response_url", count=count)]


def _seed(make):
    acme = make.customer("Acme Corporation")
    keeper = make.contact(acme, svc.ContactInput(name="Jane Doe", email="jane@acme.com"))
    make.activity(acme, "keeper's call", contact=keeper)
    rockets = make.customer("Acme Rockets <!channel>", force=True)
    dup = make.contact(rockets, svc.ContactInput(name="Jane Doe <@U0REP>", phone="+1 415 555 0100"))
    with make.services.session_factory.begin() as s:  # the same email twice, as an import leaves it
        s.get(Contact, dup.id).email = "jane@acme.com"
    make.activity(rockets, "call", contact=dup)
    return keeper, dup


def test_contact_pair_merged_from_the_report_then_undone(slack, standin, app_server, ws, make):
    keeper, dup = _seed(make)
    slack.command("/crm", "duplicates", user=ADMIN)
    report = _replies(standin, 1)[-1]
    buttons = [
        b["accessory"] for b in report["blocks"] if b.get("accessory", {}).get("action_id") == views.CONTACT_MERGE
    ]
    [button] = buttons
    assert button["value"] == f"{dup.id}:{keeper.id}"  # the busier, older record is kept
    assert button["confirm"]["title"]["text"] == "Merge contacts?" and "undo" in button["confirm"]["text"]["text"]
    shown = " ".join(mrkdwn_in(report["blocks"]))  # the dialog is plain text, which can't ping
    assert "<!channel>" not in shown and "<@U0REP>" not in shown and "&lt;@U0REP&gt;" in shown

    slack.click(views.CONTACT_MERGE, button["value"], user=REP)  # a forwarded button: refused
    assert "Only workspace admins" in _replies(standin, 2)[-1]["text"]
    slack.click(views.CONTACT_MERGE, button["value"], user=ADMIN)
    merged = _replies(standin, 3)[-1]
    assert merged["replace_original"] is True
    assert merged["text"].startswith("Merged contact Jane Doe &lt;@U0REP&gt; (at Acme Rockets")
    assert "into Jane Doe at Acme Corporation: moved 1 activity; filled in phone." in merged["text"]
    [undo] = [e for b in merged["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert undo["action_id"] == views.CONTACT_UNDO
    sf = app_server.services.session_factory
    with sf() as s:
        assert s.get(Contact, dup.id).merged_into_id == keeper.id
        assert s.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == keeper.id)) == 2
        assert s.get(Contact, keeper.id).phone == "+14155550100"

    slack.click(views.CONTACT_UNDO, undo["value"], user=ADMIN)
    undone = _replies(standin, 4)[-1]
    assert (
        undone["text"].startswith("Undid the merge of contact Jane Doe") and "1 activity moved back" in undone["text"]
    )
    with sf() as s:
        back = s.get(Contact, dup.id)
        assert back.merged_into_id is None and back.deleted_at is None
        assert s.get(Contact, keeper.id).phone is None
        assert s.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == dup.id)) == 1
    slack.click(views.CONTACT_UNDO, undo["value"], user=ADMIN)  # pressed again
    assert "nothing to undo" in _replies(standin, 5)[-1]["text"]
    app_server.drain()
    nothing_went_wrong(standin)


def test_contact_merge_clicked_at_once_and_replayed_merges_once(slack, standin, app_server, ws, make):
    keeper, dup = _seed(make)
    value = f"{dup.id}:{keeper.id}"
    payload = recorded_payload(slack, lambda: slack.click(views.CONTACT_MERGE, value, user=ADMIN))
    at_once(4, lambda: slack.post_payload(payload))
    texts = [r["text"] for r in _replies(standin, 5)]
    app_server.drain()
    assert sum(t.startswith("Merged contact") for t in texts) == 1, texts
    assert all(t.startswith("Merged contact") or "already merged" in t for t in texts), texts
    with app_server.services.session_factory() as s:
        merges = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "merge")
        assert s.scalar(merges.where(AuditEntry.entity_type == "contact")) == 1
    for value in ("x", f"{dup.id}", "99999999999999999999:1", f"{dup.id}:{dup.id}"):
        slack.click(views.CONTACT_MERGE, value, user=ADMIN)
    calm = [r["text"] for r in _replies(standin, 9)[-4:]]
    assert calm[:3] == ["That merge request was malformed. Nothing was changed."] * 3
    assert "same contact" in calm[3]
    nothing_went_wrong(standin)
