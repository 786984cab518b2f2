"""The playground: the real app, the Slack stand-in and an adjustable clock in one process.

What happens where:

* The **app** is built by :func:`bot.app.create_app` and served by the same waitress server as
  the page, at ``/slack/events``. Everything the page does reaches it as a request Slack would
  send, signed with the signing secret (:class:`bot.dev.driver.SlackDriver` does the signing);
  :mod:`bot.dev.playground.payloads` builds those requests.
* The app's **Web API client** talks to :class:`bot.dev.standin.SlackStandIn`, the stand-in the
  test-suite uses; the page shows what the stand-in holds (messages, ephemeral messages, views,
  the App Home). Every payload the app sends passes Slack's Block Kit checks there.
* **Modals**: Slack keeps a stack of views per user. The playground mints every ``trigger_id``
  itself and remembers who it was for, so a ``views.open`` / ``views.push`` the stand-in records
  lands on that user's stack; a view submission's ``response_action`` is applied as Slack would.
* **Time**: :class:`Services` gets the playground's :class:`~bot.dev.playground.clock.Clock`, which
  can be moved forward.
  The scheduled jobs (follow-up nudges, digests when present) are called directly every few
  seconds and straight after a jump; APScheduler is not used here.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from slack_bolt import App

from bot.app import create_app
from bot.config import Settings
from bot.dev.driver import Response, SlackDriver
from bot.dev.playground import payloads
from bot.dev.playground.clock import Clock
from bot.dev.playground.demo import already_seeded, seed_demo
from bot.dev.playground.web import PlaygroundError, make_page_app
from bot.dev.playground.workspace import (
    CHANNELS,
    MANAGER,
    SHORTCUTS,
    TEAM_DOMAIN,
    TEAM_ID,
    USERS,
    dm_id,
)
from bot.dev.standin import Call, SlackStandIn
from bot.server import EVENTS_PATH, HEALTH_PATH, ServerThread, make_wsgi_app
from bot.services import Services
from crm.db import make_engine, make_session_factory
from crm.digest_schedule import slots_between
from crm.migrate import upgrade
from crm.value import recompute_all_tiers, recompute_tiers
from reminders.digests import SlackDigestSender, digest_tick, make_digest_sender
from reminders.nudges import SlackNudgeSender
from reminders.scheduler import make_sender, nudge_client, nudge_tick

log = logging.getLogger(__name__)

BOT_TOKEN = "xoxb-playground"
ACK_DEADLINE = 3.0  # seconds Slack waits for an ack
JUMP_STOPS = 14  # a long jump runs the scheduled jobs at this many of the latest digest times on the way


class Playground:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        database_url: str | None = None,
        demo: bool = False,
        tick_seconds: float = 5.0,
        threads: int = 24,
    ) -> None:
        self.base_settings = settings or Settings(slack_bot_token=None, slack_signing_secret=None)
        self.host = host
        self.port = port
        self.database_url = database_url
        self.demo = demo
        self.tick_seconds = tick_seconds
        self.threads = threads
        self.signing_secret = "playground-" + format(int(time.time() * 1000), "x")
        self.clock = Clock()
        self.standin = SlackStandIn(
            team_id=TEAM_ID, team_name="CRM Playground", team_domain=TEAM_DOMAIN, bot_name="crm"
        )
        self.services: Services | None = None
        self.server: ServerThread | None = None
        self.driver: SlackDriver | None = None
        self.demo_summary: dict[str, int] = {}
        self.demo_kept = 0  # customers found in a kept --database instead of seeding again
        self._tmpdir: str | None = None
        self._app: App | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._triggers: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}
        self._seen: dict[tuple[str, str], str] = {}
        self._stop = threading.Event()
        self._tick_now = threading.Event()
        self._tick_lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._sender: SlackNudgeSender | None = None
        self._digest_sender: SlackDigestSender | None = None
        self.last_tick: dict[str, Any] = {}
        self._tiers_day: date | None = None  # the (UTC) day the value tiers were last recomputed

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the playground is not running")
        return self.server.url

    def start(self) -> Playground:
        self.standin.start()
        self._seed_workspace()
        self.standin.add_listener(self._on_call)

        database_url = self.database_url
        if database_url is None:
            self._tmpdir = tempfile.mkdtemp(prefix="crm-playground-")
            database_url = f"sqlite:///{Path(self._tmpdir) / 'playground.db'}"
        settings = replace(
            self.base_settings,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=self.signing_secret,
            slack_app_token=None,
            slack_api_url=self.standin.base_url,
            database_url=database_url,
            managers=frozenset(self.base_settings.managers | {MANAGER}),
        )
        engine = make_engine(settings.database_url)
        self.services = Services(
            settings=settings, engine=engine, session_factory=make_session_factory(engine), clock=self.clock
        )
        upgrade(engine)
        if self.demo:
            workspace_id = self.services.workspace_id(TEAM_ID)
            kept = already_seeded(self.services, workspace_id)
            if kept:
                self.demo_kept = kept
                log.info("the database already holds the demo workspace (%d customers): not seeded again", kept)
            else:
                self.demo_summary = seed_demo(self.services, workspace_id, now=self.clock())
            # The daily job's value tiers, now: cards show the tier, the Home and the digest key accounts.
            tiers = recompute_tiers(self.services.session_factory, workspace_id, now=self.clock())
            self._tiers_day = self.clock().date()
            log.info("value tiers: %s", ", ".join(f"{n} {t}" for t, n in tiers.counts.items()))
        self._app = create_app(self.services)
        self._sender = make_sender(self.services, nudge_client(self.services), rate=50.0)
        self._digest_sender = make_digest_sender(self.services, nudge_client(self.services), rate=50.0)

        bot_wsgi = make_wsgi_app(self._app, engine)
        page = make_page_app(self)

        def wsgi(environ, start_response):
            if environ.get("PATH_INFO") in (EVENTS_PATH, HEALTH_PATH):
                return bot_wsgi(environ, start_response)
            return page(environ, start_response)

        self.server = ServerThread(wsgi, host=self.host, port=self.port, threads=self.threads).start()
        self.driver = SlackDriver(
            self.server.url + EVENTS_PATH,
            self.signing_secret,
            team_id=TEAM_ID,
            team_domain=TEAM_DOMAIN,
            api_app_id=self.standin.app_id,
            timeout=30,
        )
        threading.Thread(target=self.services.search.warm_all, name="warm-search", daemon=True).start()
        self._ticker = threading.Thread(target=self._tick_loop, name="playground-ticks", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._tick_now.set()
        with self._changed:
            self._changed.notify_all()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
        time.sleep(0.2)  # let long-polls woken above finish writing their answers
        if self.server is not None:
            self.server.stop()
        if self._app is not None:
            self._app.listener_runner.listener_executor.shutdown(wait=True, cancel_futures=False)
        self.standin.stop()
        if self.services is not None:
            self.services.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> Playground:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _seed_workspace(self) -> None:
        for user in USERS:
            self.standin.add_user(user.id, name=user.name, real_name=user.real_name, tz=user.tz, is_admin=user.is_admin)
        members = [u.id for u in USERS]
        for channel_id, name, shared in CHANNELS:
            self.standin.add_channel(channel_id, name=name, is_ext_shared=shared, members=members)
        for user in USERS:
            self.standin.add_channel(dm_id(user.id), name=user.id, is_im=True, user=user.id)

    # ------------------------------------------------------------------ change tracking
    def _bump(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def _on_call(self, call: Call) -> None:
        """Every call the app made to the stand-in: follow modals, stamp new messages."""
        if call.ok and call.method in ("views.open", "views.push") and call.response:
            user = self._triggers.get(str(call.params.get("trigger_id")))
            view_id = call.response["view"]["id"]
            if user:
                with self._lock:
                    stack = self._stacks.setdefault(user, [])
                    if call.method == "views.open":
                        stack[:] = [view_id]
                    elif len(stack) < 3:
                        stack.append(view_id)
        self._stamp_messages()
        self._bump()

    def _stamp_messages(self) -> None:
        """Remember when (on the playground clock) each message first appeared."""
        now = self.clock().isoformat()
        with self._lock:
            for channel in self.standin.channels():
                for message in self.standin.messages(channel["id"]) + self.standin.ephemeral_messages(channel["id"]):
                    self._seen.setdefault((channel["id"], message["ts"]), now)

    def _trigger(self, user: str) -> str:
        trigger = self.standin.trigger_id()
        with self._lock:
            self._triggers[trigger] = user
        return trigger

    # ------------------------------------------------------------------ what the page sees
    def users(self) -> list[dict[str, Any]]:
        roles = {u.id: u for u in USERS}
        found = []
        for user in self.standin.users():
            known = roles.get(user["id"])
            found.append(
                {
                    "id": user["id"],
                    "name": user["name"],
                    "real_name": user.get("real_name") or user["name"],
                    "tz": user.get("tz"),
                    "is_admin": bool(user.get("is_admin")),
                    "is_bot": bool(user.get("is_bot")),
                    "role": known.role if known else ("bot" if user.get("is_bot") else "member"),
                    "in_switcher": bool(known and known.in_switcher),
                }
            )
        return found

    def _user(self, user_id: Any) -> dict[str, Any]:
        found = next((u for u in self.users() if u["id"] == user_id and not u["is_bot"]), None)
        if found is None:
            raise PlaygroundError(f"unknown user {user_id!r}")
        return found

    def _channel(self, channel_id: Any) -> dict[str, Any]:
        found = next((c for c in self.standin.channels() if c["id"] == channel_id), None)
        if found is None:
            raise PlaygroundError(f"unknown channel {channel_id!r}")
        return found

    def _visible_channels(self, user: str) -> list[dict[str, Any]]:
        shown = []
        for channel in self.standin.channels():
            if channel.get("is_im"):
                if channel.get("user") != user:
                    continue
                shown.append({"id": channel["id"], "name": self.standin.bot_name, "kind": "app"})
            elif user in channel["members"]:
                kind = "shared" if channel.get("is_ext_shared") else "channel"
                shown.append({"id": channel["id"], "name": channel["name"], "kind": kind})
        return shown

    def _messages(self, channel: str, user: str) -> list[dict[str, Any]]:
        public = self.standin.messages(channel)
        private = [dict(m, ephemeral=True) for m in self.standin.ephemeral_messages(channel, user)]
        with self._lock:
            seen = dict(self._seen)
        merged = sorted(public + private, key=lambda m: float(m["ts"]))
        for message in merged:
            message["time"] = seen.get((channel, message["ts"]))
        return merged

    def state(self, user: str, channel: str | None = None, *, since: int = -1, wait: float = 0.0) -> dict[str, Any]:
        """What ``user`` sees. With ``since``, waits up to ``wait`` seconds for something newer."""
        self._user(user)
        deadline = time.monotonic() + wait
        with self._changed:
            while self._version <= since and not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            version = self._version
            stack = list(self._stacks.get(user, []))
        channels = self._visible_channels(user)
        for item in channels:
            messages = self._messages(item["id"], user)
            item["latest"] = messages[-1]["ts"] if messages else None
        views = [v for v in (self.standin.view(view_id) for view_id in stack) if v is not None]
        now = self.clock()
        return {
            "version": version,
            "team": {"id": TEAM_ID, "name": self.standin.team_name, "bot_user_id": self.standin.bot_user_id},
            "me": user,
            "users": self.users(),
            "channels": channels,
            "channel": channel,
            "messages": self._messages(channel, user) if channel else [],
            "modal": views,
            "home": self.standin.home_view(user),
            "now": now.isoformat(),
            "offset_seconds": int(self.clock.offset.total_seconds()),
            "shortcuts": list(SHORTCUTS),
            "last_tick": dict(self.last_tick),
            "block_errors": self.standin.block_errors[-5:],
        }

    # ------------------------------------------------------------------ talking to the app
    def _post(self, send: Callable[[], Response], what: str) -> dict[str, Any]:
        assert self.driver is not None
        answer = send()
        result: dict[str, Any] = {"status": answer.status, "elapsed": round(answer.elapsed, 3)}
        if answer.elapsed > ACK_DEADLINE:
            result["warning"] = f"The app took {answer.elapsed:.1f} s to answer {what}; Slack gives up after 3 s."
        try:
            result["body"] = answer.json()
        except ValueError:
            result["body"] = answer.text
        return result

    def _say(self, channel: str, user: str, text: str) -> None:
        """An ephemeral notice from "Slack" itself (unknown command, app errors)."""
        self._reply_through(self.standin.response_url(channel, user=user), {"text": text})

    @staticmethod
    def _reply_through(url: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _acting(self, user: str) -> payloads.Sender:
        name = self._user(user)["name"]
        return payloads.Sender(TEAM_ID, TEAM_DOMAIN, self.standin.app_id, user, name)

    def _in_message(self, channel: str, ts: str, user: str, response_url: str) -> payloads.InMessage:
        name = payloads.channel_name(self._channel(channel))
        message, ephemeral = self._find_message(channel, ts, user)
        return payloads.InMessage(channel, name, ts, message, ephemeral, response_url)

    def _send(self, payload: dict[str, Any], what: str) -> dict[str, Any]:
        driver = self.driver
        assert driver is not None
        return self._post(lambda: driver.post_payload(payload), what)

    def _send_event(self, event: dict[str, Any], what: str) -> dict[str, Any]:
        driver = self.driver
        assert driver is not None
        return self._post(lambda: driver.event(event, authorizations_user=self.standin.bot_user_id), what)

    def command(self, user: str, channel: str, text: str) -> dict[str, Any]:
        """A slash command typed in the composer (``/crm help``)."""
        driver = self.driver
        assert driver is not None
        sender = self._acting(user)
        info = self._channel(channel)
        command, _, args = text.strip().partition(" ")
        if not re.fullmatch(r"/[\w-]{1,31}", command):
            raise PlaygroundError("a slash command starts with / and a name, such as /crm help")
        response_url = self.standin.response_url(channel, user=user)
        users = {u["name"]: u["id"] for u in self.users()}
        channels = {c["name"]: c["id"] for c in self.standin.channels() if not c.get("is_im")}
        args = payloads.escape_command_text(args.strip(), users=users, channels=channels)
        fields = payloads.slash_command(
            sender, command, args, channel=info, response_url=response_url, trigger_id=self._trigger(user)
        )
        result = self._post(lambda: driver.post_form(fields), command)
        body = result.get("body")
        if result["status"] == 404:
            self._say(channel, user, f"`{command}` is not a command this app knows. Try `/crm help`.")
        elif result["status"] != 200:
            self._say(channel, user, f'{command} failed with the error "dispatch_failed" (HTTP {result["status"]}).')
        elif isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            # An ack with a message is shown like a response_url reply.
            self._reply_through(response_url, body)
        elif isinstance(body, str) and body.strip():
            self._reply_through(response_url, {"text": body})
        return result

    def message(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
        """A message typed in the composer; ``@crm`` in it reaches the app as an app_mention event."""
        self._user(user)
        info = self._channel(channel)
        if not text.strip():
            raise PlaygroundError("the message is empty")
        encoded = self.encode_text(text)
        stored = self.standin.post_message(channel, encoded, user=user, thread_ts=thread_ts or None)
        self._stamp_messages()
        self._bump()
        result: dict[str, Any] = {"ts": stored["ts"]}
        if f"<@{self.standin.bot_user_id}>" in encoded:
            event = payloads.app_mention(
                user, encoded, stored["ts"], channel=info, team_id=TEAM_ID, thread_ts=thread_ts
            )
            result.update(self._send_event(event, "@crm"))
        return result

    def encode_text(self, text: str) -> str:
        """Typed text as Slack stores it, with this workspace's people and channels."""
        users = {u["name"]: u["id"] for u in self.users()}
        users.setdefault(self.standin.bot_name, self.standin.bot_user_id)
        channels = {c["name"]: c["id"] for c in self.standin.channels() if not c.get("is_im")}
        return payloads.encode_text(text, users=users, channels=channels)

    def _find_message(self, channel: str, ts: str, user: str) -> tuple[dict[str, Any], bool]:
        for message in self.standin.messages(channel):
            if message["ts"] == ts:
                return message, False
        for message in self.standin.ephemeral_messages(channel, user):
            if message["ts"] == ts:
                return message, True
        raise PlaygroundError("that message is gone")

    def _view_with_state(self, user: str, view_id: str, values: dict[str, Any] | None) -> dict[str, Any]:
        view = self.standin.view(view_id)
        if view is None:
            raise PlaygroundError("that view is gone")
        with self._lock:
            mine = view_id in self._stacks.get(user, [])
        home = self.standin.home_view(user)
        if not mine and not (home is not None and home["id"] == view_id):
            raise PlaygroundError("that view is not open for this user")
        view["state"] = {"values": values or {}}
        return view

    def action(
        self,
        user: str,
        action: dict[str, Any],
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A click or a choice in a message, a modal or the App Home (a block_actions payload)."""
        if not action.get("action_id") or not action.get("type"):
            raise PlaygroundError("an action needs a type and an action_id")
        sender, trigger = self._acting(user), self._trigger(user)
        if view_id:
            view = self._view_with_state(user, view_id, values)
            payload = payloads.block_actions(sender, action, trigger_id=trigger, values=values, view=view)
        elif channel and message_ts:
            response_url = self.standin.response_url(channel, message_ts=message_ts, user=user)
            where = self._in_message(channel, message_ts, user, response_url)
            payload = payloads.block_actions(sender, action, trigger_id=trigger, values=values, where=where)
        else:
            raise PlaygroundError("an action happens in a message (channel, message_ts) or a view (view_id)")
        return self._send(payload, "a click")

    def suggest(
        self, user: str, view_id: str, block_id: str, action_id: str, value: str, values: dict | None = None
    ) -> dict[str, Any]:
        """Typeahead for an external_select: a block_suggestion payload; returns the options."""
        view = self._view_with_state(user, view_id, values)
        result = self._send(
            payloads.block_suggestion(self._acting(user), view, block_id, action_id, value), "a typeahead"
        )
        body = payloads.body_of(result)
        return {**result, "options": body.get("options") or [], "option_groups": body.get("option_groups") or []}

    def submit(self, user: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """The modal's submit button: a view_submission, then its response_action as Slack does it."""
        view = self._view_with_state(user, view_id, values)
        payload = payloads.view_submission(self._acting(user), view, trigger_id=self._trigger(user))
        result = self._send(payload, "a form")
        body = payloads.body_of(result)
        action = body.get("response_action")
        if result["status"] != 200:
            result["error"] = "We had some trouble connecting. Try again?"
        elif action == "errors":
            result["errors"] = body.get("errors") or {}
        elif action in ("update", "push"):
            try:
                pushed = self.standin.view_response(view_id, action, body.get("view") or {})
            except ValueError as err:
                result["error"] = f"Slack refused the app's view: {err}"
            else:
                if action == "push":
                    with self._lock:
                        self._stacks.setdefault(user, []).append(pushed["id"])
        elif action == "clear":
            with self._lock:
                self._stacks[user] = []
        else:
            self._pop(user, view_id)
        self._bump()
        return result

    def _pop(self, user: str, view_id: str) -> None:
        with self._lock:
            stack = self._stacks.get(user, [])
            if view_id in stack:
                del stack[stack.index(view_id) :]

    def close(self, user: str, view_id: str, *, everything: bool = False) -> dict[str, Any]:
        """The modal's Cancel (this view) or ✕ (the whole stack); view_closed if the view asks for it."""
        view = self.standin.view(view_id)
        with self._lock:
            stack = list(self._stacks.get(user, []))
        closing = stack if everything else [view_id]
        if view is not None and view.get("notify_on_close"):
            cleared = everything and len(closing) > 1
            self._send(payloads.view_closed(self._acting(user), view, cleared=cleared), "view_closed")
        if everything:
            with self._lock:
                self._stacks[user] = []
        else:
            self._pop(user, view_id)
        self._bump()
        return {"ok": True}

    def open_home(self, user: str) -> dict[str, Any]:
        """The user opened the app's Home tab: an app_home_opened event."""
        self._user(user)
        event = payloads.app_home_opened(user, dm_id(user), self.standin.home_view(user))
        return self._send_event(event, "App Home")

    def shortcut(
        self, user: str, callback_id: str, *, channel: str | None = None, message_ts: str | None = None
    ) -> dict[str, Any]:
        """A global shortcut (the ⚡ menu) or a message shortcut (a message's ⋮ menu)."""
        sender, trigger = self._acting(user), self._trigger(user)
        on = None
        if channel and message_ts:
            on = self._in_message(channel, message_ts, user, self.standin.response_url(channel, user=user))
            if on.ephemeral:
                raise PlaygroundError("shortcuts don't work on messages only you can see")
        return self._send(payloads.shortcut(sender, callback_id, trigger_id=trigger, on=on), "a shortcut")

    # ------------------------------------------------------------------ time
    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the clock forward, then run the scheduled jobs at once.

        A jump stops at each digest's time on the way (the most recent :data:`JUMP_STOPS` of
        them) and runs the jobs there, as running replicas would have: a digest is due only on
        its own local day, so jumping straight past it would skip it."""
        if not 0 < seconds <= 366 * 86400:
            raise PlaygroundError("move the clock forward by a positive amount, at most a year")
        assert self.services is not None
        jump = timedelta(seconds=seconds)
        target = self.clock.offset + jump  # the offset asked for, exactly
        start = self.clock()
        for at in slots_between(self.services.session_factory, start, start + jump, limit=JUMP_STOPS):
            if at < start + jump:
                self.clock.advance(max(timedelta(0), at - self.clock()))
                self.tick()
        now = self.clock.advance(max(timedelta(0), target - self.clock.offset))
        self._bump()
        self.tick()
        return {"now": now.isoformat(), "offset_seconds": int(self.clock.offset.total_seconds())}

    def file(self, file_id: str) -> tuple[str, bytes] | None:
        """An uploaded file's type and bytes (the charts), for the page's <img>."""
        return self.standin.file_bytes(file_id)

    def tick(self) -> dict[str, Any]:
        """Run the scheduled jobs once, as each replica's scheduler would."""
        assert self.services is not None and self._sender is not None and self._digest_sender is not None
        with self._tick_lock:
            if self.clock().date() != self._tiers_day:  # the scheduler's daily tier job, on the moved clock
                recompute_all_tiers(self.services.session_factory, now=self.clock())
                self._tiers_day = self.clock().date()
            report: dict[str, Any] = {
                "at": self.clock().isoformat(),
                "nudges": nudge_tick(self.services, self._sender),
                "digests": digest_tick(self.services, self._digest_sender),
            }
            before = self.last_tick
            report["nudges_total"] = before.get("nudges_total", 0) + report["nudges"]
            report["digests_total"] = before.get("digests_total", 0) + report["digests"]
            self.last_tick = report
        self._bump()  # the header's "last check" (the page redraws only the header if that is all)
        return report

    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            self._tick_now.wait(self.tick_seconds)
            self._tick_now.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except Exception:  # a background loop: log it with the trace and keep ticking
                log.exception("scheduled jobs failed in the playground")
