"""``response_url``: the per-interaction URLs an app answers through (reply, replace, delete, in_channel)."""

from __future__ import annotations

import copy
from typing import Any

from bot.dev.standin.server import Answer, SlackError
from bot.dev.standin.workspace import ResponseUrl, Workspace, truthy


class ResponseUrls(Workspace):
    """Minting response_urls for simulated interactions and doing what Slack does with their posts."""

    def response_url(
        self, channel: str | None = None, *, message_ts: str | None = None, user: str | None = None
    ) -> str:
        """Mint a ``response_url`` whose posts are recorded as calls to ``"response_url"``.

        Bound to ``channel`` (and the ``message_ts`` that held the button, and the ``user`` who
        clicked), its posts also act like Slack's: ``replace_original`` / ``delete_original``
        change that message, ``response_type: in_channel`` posts to the channel, anything else
        shows an ephemeral message to ``user``."""
        with self._lock:
            rid = self._mint("R")
            self._response_urls[rid] = ResponseUrl(channel, message_ts, user)
        return f"{self.root_url}response/{rid}"

    # ---------------------------------------------------------------- what a post to one does

    def _run_response_url(self, rid: str, body: dict[str, Any]) -> Answer:
        binding = self._response_urls.get(rid)
        if binding is None:
            return Answer.json({"ok": False, "error": "expired_url"}, status=404)
        if truthy(body.get("delete_original")):
            if binding.channel and binding.message_ts:
                message = self._find(binding.channel, binding.message_ts)
                if message is not None:
                    self._delete(binding.channel, message)
                else:
                    ephemeral = self._find_ephemeral(binding)
                    if ephemeral is not None:
                        self._ephemeral[binding.channel].remove(ephemeral)
            return Answer.json({"ok": True})
        try:
            self._check_message("response_url", body)
        except SlackError as e:
            return Answer.json({"ok": False, "error": e.error, **e.extra}, status=400)
        if binding.channel:
            self._respond(binding, body)
        return Answer.json({"ok": True})

    def _find_ephemeral(self, binding: ResponseUrl) -> dict[str, Any] | None:
        found = self._ephemeral.get(binding.channel or "", [])
        return next(
            (m for m in found if m["ts"] == binding.message_ts and m.get("recipient") in (None, binding.user)), None
        )

    def _respond(self, binding: ResponseUrl, body: dict[str, Any]) -> None:
        channel_id = binding.channel or ""
        if channel_id not in self._channels:
            self.add_channel(channel_id, name=channel_id.lower())
        if truthy(body.get("replace_original")) and binding.message_ts:
            # An ephemeral message can be replaced too (only through its response_url).
            message = self._find(channel_id, binding.message_ts) or self._find_ephemeral(binding)
            if message is not None:
                # A replacement is the whole message: what the body leaves out is gone.
                message["text"] = body.get("text") or ""
                for key in ("blocks", "attachments"):
                    if body.get(key) is not None:
                        message[key] = copy.deepcopy(body[key])
                    else:
                        message.pop(key, None)
                message["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
                return
        message = self._bot_message(body)
        if body.get("response_type") == "in_channel":
            self._store_message(channel_id, message, body.get("thread_ts") or None)
        else:
            message.update(ts=self._new_ts(), recipient=binding.user)
            self._ephemeral.setdefault(channel_id, []).append(message)
