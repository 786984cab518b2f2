"""The loopback Slack stand-in, driven by a real slack_sdk WebClient over HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.dev.standin import SlackStandIn

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* renewed"}}
MODAL = {
    "type": "modal",
    "callback_id": "log_activity",
    "title": {"type": "plain_text", "text": "Log activity"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "notes",
            "label": {"type": "plain_text", "text": "Notes"},
            "element": {"type": "plain_text_input", "action_id": "notes", "max_length": 2000},
        }
    ],
}


@pytest.fixture
def fake_slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        standin.add_channel("C1", name="sales")
        standin.add_user("U1", name="ann", real_name="Ann Lee", tz="Europe/Berlin", tz_offset=3600)
        yield standin


@pytest.fixture
def client(fake_slack: SlackStandIn) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake_slack.base_url)


def error_of(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# ------------------------------------------------------------------------------ messages


def test_post_message_is_recorded_and_stored(fake_slack: SlackStandIn, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="Acme renewed", blocks=[SECTION])
    second = client.chat_postMessage(channel="C1", text="again")

    assert first["ok"] and first["channel"] == "C1"
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["bot_id"] == "B0BOT" and first["message"]["user"] == "U0BOT"

    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.ok and call.params["text"] == "Acme renewed" and call.params["blocks"] == [SECTION]
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert call.token == "xoxb-test" and "token" not in call.params
    assert [m["text"] for m in fake_slack.messages("C1")] == ["Acme renewed", "again"]
    assert fake_slack.messages("C1")[0]["blocks"] == [SECTION]
    assert fake_slack.block_errors == []


def test_form_encoded_blocks_are_decoded(fake_slack: SlackStandIn, client: WebClient) -> None:
    # params= makes WebClient send a form body, with blocks as a JSON string inside it.
    client.api_call("chat.postMessage", params={"channel": "C1", "text": "x", "blocks": json.dumps([SECTION])})
    assert fake_slack.calls_to("chat.postMessage")[0].params["blocks"] == [SECTION]
    assert fake_slack.messages("C1")[0]["blocks"] == [SECTION]


def test_posting_to_a_user_goes_to_their_dm(fake_slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U1", text="Your nudge")
    opened = client.conversations_open(users="U1")

    assert posted["channel"].startswith("D")
    assert opened["channel"]["id"] == posted["channel"]
    assert [m["text"] for m in fake_slack.messages("U1")] == ["Your nudge"]
    assert client.conversations_info(channel=posted["channel"])["channel"]["user"] == "U1"


def test_unknown_channels_are_created_unless_strict(fake_slack: SlackStandIn, client: WebClient) -> None:
    assert client.chat_postMessage(channel="C999", text="hi")["ok"]
    with SlackStandIn(strict_channels=True) as strict:
        strict_client = WebClient(token="xoxb-test", base_url=strict.base_url)
        with pytest.raises(SlackApiError) as excinfo:
            strict_client.chat_postMessage(channel="C999", text="hi")
        assert error_of(excinfo) == "channel_not_found"


def test_private_channel_without_the_bot_is_not_in_channel(fake_slack: SlackStandIn, client: WebClient) -> None:
    fake_slack.add_channel("G1", name="exec", is_private=True, is_member=False)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="G1", text="hi")
    assert error_of(excinfo) == "not_in_channel"
    assert fake_slack.messages("G1") == []
    assert not fake_slack.calls_to("chat.postMessage")[0].ok


def test_update_delete_and_permalink(fake_slack: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="draft")["ts"]
    client.chat_update(channel="C1", ts=ts, text="final", blocks=[SECTION])
    [message] = fake_slack.messages("C1")
    assert message["text"] == "final" and message["blocks"] == [SECTION] and "edited" in message

    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link == f"https://test-workspace.slack.com/archives/C1/p{ts.replace('.', '')}"

    client.chat_delete(channel="C1", ts=ts)
    assert fake_slack.messages("C1") == []
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel="C1", ts=ts, text="again")
    assert error_of(excinfo) == "message_not_found"


def test_bot_cannot_edit_a_users_message(fake_slack: SlackStandIn, client: WebClient) -> None:
    seeded = fake_slack.post_message("C1", "mine", user="U1")
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel="C1", ts=seeded["ts"], text="hijacked")
    assert error_of(excinfo) == "cant_update_message"


def test_ephemeral_message(fake_slack: SlackStandIn, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C1", user="U1", text="Only you can see this")
    assert answer["message_ts"]
    [shown] = fake_slack.ephemeral_messages("C1", user="U1")
    assert shown["text"] == "Only you can see this" and shown["recipient"] == "U1"
    assert fake_slack.messages("C1") == []


# ------------------------------------------------------------------------------ faults


def test_rate_limit_is_retried_by_the_retry_handler(fake_slack: SlackStandIn) -> None:
    client = WebClient(
        token="xoxb-test",
        base_url=fake_slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake_slack.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1)

    assert client.chat_postMessage(channel="C1", text="hi")["ok"]

    first, second = fake_slack.calls_to("chat.postMessage")
    assert (first.ok, first.status, first.error) == (False, 429, "ratelimited")
    assert second.ok and second.at - first.at >= 1
    assert [m["text"] for m in fake_slack.messages("C1")] == ["hi"]  # the limited attempt posted nothing


def test_rate_limit_without_a_retry_handler_raises(fake_slack: SlackStandIn, client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="hi")
    assert error_of(excinfo) == "ratelimited"
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C1", text="later")["ok"]  # only the next call failed


def test_fail_next_with_an_error(fake_slack: SlackStandIn, client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="C1", text="hi")
        assert error_of(excinfo) == "not_in_channel"
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]


def test_server_error_answers_html(fake_slack: SlackStandIn, client: WebClient) -> None:
    fake_slack.fail_next("users.info", status=500)
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="U1")
    assert excinfo.value.response.status_code == 500
    assert "non-JSON" in error_of(excinfo)
    assert fake_slack.calls_to("users.info")[0].error == "http_500"

    fake_slack.fail_next("users.info", status=503)
    retrying = WebClient(
        token="xoxb-test", base_url=fake_slack.base_url, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)]
    )
    assert retrying.users_info(user="U1")["user"]["id"] == "U1"


def test_latency_makes_the_client_time_out_but_the_call_still_lands(fake_slack: SlackStandIn) -> None:
    fake_slack.set_latency("chat.postMessage", 1.0)
    impatient = WebClient(token="xoxb-test", base_url=fake_slack.base_url, timeout=0.2)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="C1", text="slow")
    assert [m["text"] for m in fake_slack.messages("C1")] == ["slow"]


@pytest.mark.parametrize(
    ("token", "error"), [(None, "not_authed"), ("abc", "invalid_auth"), ("xoxa-1", "invalid_auth")]
)
def test_bad_tokens_are_refused(fake_slack: SlackStandIn, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(token=token, base_url=fake_slack.base_url).auth_test()
    assert error_of(excinfo) == error


def test_unknown_method(fake_slack: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessagee")
    assert error_of(excinfo) == "unknown_method"


# ------------------------------------------------------------------------------ Block Kit checks


def test_invalid_blocks_are_rejected_and_recorded(fake_slack: SlackStandIn, client: WebClient) -> None:
    too_long = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="x", blocks=[too_long])

    assert error_of(excinfo) == "invalid_blocks"
    assert excinfo.value.response["errors"] == ["blocks[0] (header) text: 151 characters; the limit is 150"]
    assert fake_slack.block_errors == ["chat.postMessage: blocks[0] (header) text: 151 characters; the limit is 150"]
    assert fake_slack.messages("C1") == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_missing_fallback_text_is_recorded_but_accepted(fake_slack: SlackStandIn, client: WebClient) -> None:
    assert client.chat_postMessage(channel="C1", blocks=[SECTION])["ok"]
    assert len(fake_slack.block_errors) == 1 and "no top-level text" in fake_slack.block_errors[0]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_message_with_nothing_in_it(fake_slack: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1")
    assert error_of(excinfo) == "no_text"


# ------------------------------------------------------------------------------ views


def test_views_open_update_and_hash_conflict(fake_slack: SlackStandIn, client: WebClient) -> None:
    opened = client.views_open(trigger_id="123.456.abc", view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["callback_id"] == "log_activity" and opened["state"] == {"values": {}}
    assert fake_slack.view(opened["id"])["blocks"] == MODAL["blocks"]  # type: ignore[index]

    changed = {**MODAL, "title": {"type": "plain_text", "text": "Saved"}}
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]

    with pytest.raises(SlackApiError) as excinfo:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)
    assert error_of(excinfo) == "hash_conflict"


def test_a_trigger_works_once(fake_slack: SlackStandIn, client: WebClient) -> None:
    trigger = fake_slack.trigger_id()
    client.views_open(trigger_id=trigger, view=MODAL)
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id=trigger, view=MODAL)
    assert error_of(excinfo) == "exchanged_trigger_id"


def test_invalid_view_is_rejected_and_recorded(fake_slack: SlackStandIn, client: WebClient) -> None:
    bad = {**MODAL, "title": {"type": "plain_text", "text": "A title that is far too long"}}
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id="t", view=bad)
    assert error_of(excinfo) == "invalid_arguments"
    assert fake_slack.block_errors == ["views.open: view.title: 28 characters; the limit is 24"]


def test_views_publish_home_tab(fake_slack: SlackStandIn, client: WebClient) -> None:
    home = {"type": "home", "blocks": [SECTION]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    second = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert second["id"] == first["id"]
    assert fake_slack.home_view("U1")["blocks"] == [SECTION]  # type: ignore[index]


# ------------------------------------------------------------------------------ directory and history


def test_users_info(fake_slack: SlackStandIn, client: WebClient) -> None:
    user = client.users_info(user="U1", include_locale=True)["user"]
    assert (user["name"], user["real_name"], user["tz"], user["tz_offset"]) == ("ann", "Ann Lee", "Europe/Berlin", 3600)
    assert user["locale"] == "en-US" and user["profile"]["real_name"] == "Ann Lee"
    assert "locale" not in client.users_info(user="U1")["user"]

    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="U404")
    assert error_of(excinfo) == "user_not_found"


def test_users_list_pages(fake_slack: SlackStandIn, client: WebClient) -> None:
    fake_slack.add_user("U2", name="bo")
    first = client.users_list(limit=2)
    rest = client.users_list(limit=2, cursor=first["response_metadata"]["next_cursor"])
    ids = [u["id"] for u in first["members"] + rest["members"]]
    assert ids == ["U0BOT", "U1", "U2"] and rest["response_metadata"]["next_cursor"] == ""


def test_conversations_replies_of_a_seeded_thread(fake_slack: SlackStandIn, client: WebClient) -> None:
    parent = fake_slack.post_message("C1", "Who owns Acme?", user="U1")
    fake_slack.post_message("C1", "I do", user="U1", thread_ts=parent["ts"])
    client.chat_postMessage(channel="C1", text="Noted", thread_ts=parent["ts"])

    thread = client.conversations_replies(channel="C1", ts=parent["ts"])["messages"]
    assert [m["text"] for m in thread] == ["Who owns Acme?", "I do", "Noted"]
    assert thread[0]["reply_count"] == 2 and thread[0]["reply_users"] == ["U1", "U0BOT"]
    assert all(m["thread_ts"] == parent["ts"] for m in thread)

    history = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in history] == ["Who owns Acme?"]  # replies stay in the thread

    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_replies(channel="C1", ts="1.000001")
    assert error_of(excinfo) == "thread_not_found"


def test_conversations_info_join_and_members(fake_slack: SlackStandIn, client: WebClient) -> None:
    fake_slack.add_channel("C2", name="general", is_member=False, members=["U1"])
    assert client.conversations_info(channel="C2")["channel"]["is_member"] is False
    client.conversations_join(channel="C2")
    assert client.conversations_info(channel="C2")["channel"]["is_member"] is True
    assert client.conversations_members(channel="C2")["members"] == ["U1", "U0BOT"]
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_info(channel="C404")
    assert error_of(excinfo) == "channel_not_found"


def test_auth_and_team(fake_slack: SlackStandIn, client: WebClient) -> None:
    auth = client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0TEST", "U0BOT", "B0BOT")
    assert client.team_info()["team"]["id"] == "T0TEST"


def test_file_upload_v2(fake_slack: SlackStandIn, client: WebClient) -> None:
    uploaded = client.files_upload_v2(channel="C1", content="name,email\n", filename="contacts.csv")
    assert uploaded["file"]["size"] == len("name,email\n")
    [message] = fake_slack.messages("C1")
    assert message["files"][0]["name"] == "contacts.csv"


# ------------------------------------------------------------------------------ response_url


def test_response_url_posts_are_recorded(fake_slack: SlackStandIn) -> None:
    url = fake_slack.response_url()
    assert url.startswith(fake_slack.root_url + "response/")

    answer = WebhookClient(url).send(text="Saved", blocks=[SECTION], response_type="ephemeral")

    assert answer.status_code == 200 and json.loads(answer.body) == {"ok": True}
    [call] = fake_slack.calls_to("response_url")
    assert call.params["id"] == url.rsplit("/", 1)[1]
    assert call.params["text"] == "Saved" and call.params["blocks"] == [SECTION]
    assert call.params["response_type"] == "ephemeral"


def test_response_url_replaces_and_deletes_the_original(fake_slack: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="Pick one", blocks=[SECTION])["ts"]
    url = fake_slack.response_url("C1", message_ts=ts, user="U1")

    WebhookClient(url).send(text="Done", replace_original=True)
    [message] = fake_slack.messages("C1")
    assert message["text"] == "Done" and "blocks" not in message

    WebhookClient(url).send(text="Only for you")
    assert [m["text"] for m in fake_slack.ephemeral_messages("C1", user="U1")] == ["Only for you"]

    WebhookClient(url).send(delete_original=True)
    assert fake_slack.messages("C1") == []


def test_response_url_with_invalid_blocks(fake_slack: SlackStandIn) -> None:
    answer = WebhookClient(fake_slack.response_url()).send(text="x", blocks=[{"type": "section"}])
    assert answer.status_code == 400 and json.loads(answer.body)["error"] == "invalid_blocks"
    assert fake_slack.block_errors and fake_slack.block_errors[0].startswith("response_url: blocks[0] (section)")


def test_unknown_response_url(fake_slack: SlackStandIn) -> None:
    answer = WebhookClient(fake_slack.root_url + "response/nope").send(text="x")
    assert answer.status_code == 404


# ------------------------------------------------------------------------------ helpers


def test_wait_for_returns_calls_made_from_another_thread(fake_slack: SlackStandIn, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.1)
        client.chat_postMessage(channel="C1", text="from a job")

    threading.Thread(target=later).start()
    [call] = fake_slack.wait_for("chat.postMessage", timeout=5)
    assert call.params["text"] == "from a job"


def test_wait_for_says_what_did_arrive(fake_slack: SlackStandIn, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(AssertionError, match=r"got 0.*auth\.test\(ok\)"):
        fake_slack.wait_for("chat.postMessage", timeout=0.1)


def test_concurrent_calls_are_all_recorded(fake_slack: SlackStandIn, client: WebClient) -> None:
    threads = [
        threading.Thread(target=client.chat_postMessage, kwargs={"channel": "C1", "text": str(i)}) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_slack.calls_to("chat.postMessage")) == 20
    assert len({m["ts"] for m in fake_slack.messages("C1")}) == 20


def test_reset_forgets_everything_but_the_bot(fake_slack: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="hi")
    fake_slack.fail_next("auth.test", error="fatal_error")
    fake_slack.reset()
    assert fake_slack.calls == [] and fake_slack.block_errors == [] and fake_slack.messages("C1") == []
    assert client.auth_test()["ok"]
    assert client.users_info(user="U0BOT")["user"]["is_bot"] is True


def test_not_found_outside_the_api(fake_slack: SlackStandIn) -> None:
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(fake_slack.root_url + "nothing-here")
    assert excinfo.value.code == 404


def test_works_as_the_client_of_a_bolt_app(fake_slack: SlackStandIn) -> None:
    from slack_bolt import App

    app = App(
        client=WebClient(token="xoxb-test", base_url=fake_slack.base_url),
        signing_secret="secret",
    )
    assert fake_slack.calls_to("auth.test")  # Bolt verifies the token at construction
    answer: Any = app.client.chat_postMessage(channel="C1", text="from bolt")
    assert answer["ok"]
