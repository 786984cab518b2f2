"""`/crm pipeline charts` end to end: signed slash commands to the running app; the charts go to
the asker's DM with the bot (an ephemeral answer can't carry files), never into the channel,
and a pipeline with nothing to draw gets sentences, never a broken image."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import REP, REP2

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def ws(services, ws) -> int:
    services.clock = lambda: NOW
    return ws


def ask(slack, standin, text: str, channel: str = "C0SALES", user: str = REP) -> dict:
    before = len(standin.calls_to("response_url"))
    slack.command("/crm", text, channel=channel, user=user)
    return standin.wait_for("response_url", count=before + 1)[before].params


def test_pipeline_charts_go_to_the_askers_dm(slack, standin, app_server, ws, make):
    acme = make.customer("Acme Corp")
    make.deal(acme, stage="proposal", amount="70000", currency="USD", owner=REP, at=NOW - timedelta(days=20))
    make.deal(acme, stage="lead", amount="5000", currency="EUR", owner=REP2, at=NOW - timedelta(days=3))
    make.activity(acme, type_key="call", by=REP, at=NOW - timedelta(hours=2))
    answer = ask(slack, standin, "pipeline team charts")
    assert answer["response_type"] == "ephemeral"
    assert "The charts are in your DM with me" in str(answer["blocks"])
    [upload] = [c for c in standin.calls_to("files.completeUploadExternal") if c.ok]
    dm = upload.params["channel_id"]
    assert dm.startswith("D") and standin.messages("C0SALES") == []
    files = standin.uploaded()
    assert {f["name"] for f in files} == {"pipeline-by-stage.png", "pipeline-weekly.png", "activities-per-rep.png"}
    assert all(f["content"].startswith(b"\x89PNG") and f["alt_txt"] for f in files)
    by_stage = next(f for f in files if f["name"] == "pipeline-by-stage.png")
    assert "USD: Lead $0, Qualified $0, Proposal $70k" in by_stage["alt_txt"]
    assert "<@" not in upload.params.get("initial_comment", "")
    # Without `charts`, nothing is uploaded.
    ask(slack, standin, "pipeline team")
    assert len(standin.calls_to("files.completeUploadExternal")) == 1


def test_nothing_to_draw_is_a_sentence_not_an_image(slack, standin, app_server, ws):
    answer = ask(slack, standin, "pipeline charts")
    text = str(answer["blocks"])
    assert "No chart of the pipeline by stage: there are no open deals yet." in text
    assert "nobody has logged an activity yet" in text
    assert standin.calls_to("files.getUploadURLExternal") == []


def test_the_charts_button_sends_them_to_the_dm(slack, standin, app_server, ws, make):
    """`/crm pipeline team` carries a "Charts" button; pressing it sends that view's charts to the
    asker's DM (not the channel) and says so; with `charts` already asked, no button is offered."""
    acme = make.customer("Acme Corp")
    make.deal(acme, stage="proposal", amount="70000", owner=REP2, at=NOW - timedelta(days=20))
    answer = ask(slack, standin, "pipeline team")
    [button] = [e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["text"]["text"], button["value"]) == ("📊 Charts", "team")
    assert standin.calls_to("files.completeUploadExternal") == []
    before = len(standin.calls_to("response_url"))
    slack.click(button["action_id"], button["value"], block_id="pipeline_charts", user=REP)
    [reply] = standin.wait_for("response_url", count=before + 1)[before:]
    assert "The charts are in your DM with me" in reply.params["text"]
    assert reply.params.get("replace_original") is not True  # the pipeline answer stays
    [upload] = [c for c in standin.calls_to("files.completeUploadExternal") if c.ok]
    assert upload.params["channel_id"].startswith("D") and standin.messages("C0SALES") == []
    by_stage = next(f for f in standin.uploaded() if f["name"] == "pipeline-by-stage.png")
    assert "Proposal $70k" in by_stage["alt_txt"]  # the team's view: REP2's deal is in it
    # "Your pipeline" offers the button for "mine"; after `charts` there is no button, only the note.
    mine = ask(slack, standin, "pipeline")
    assert [e["value"] for b in mine["blocks"] if b["type"] == "actions" for e in b["elements"]] == ["mine"]
    sent = ask(slack, standin, "pipeline charts")
    assert not [b for b in sent["blocks"] if b["type"] == "actions"]


def test_the_charts_button_with_nothing_to_draw_answers_in_words(slack, standin, app_server, ws):
    ask(slack, standin, "pipeline")
    slack.click("pipeline_charts", "mine", block_id="pipeline_charts", user=REP)
    [reply] = standin.wait_for("response_url", count=2)[1:]
    assert "there are no open deals yet" in reply.params["text"]
    assert standin.calls_to("files.getUploadURLExternal") == []
