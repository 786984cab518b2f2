"""A loopback stand-in for the Slack Web API, for tests and the local playground.

Point a ``slack_sdk.WebClient(base_url=standin.base_url)`` (or Bolt's ``App(client=...)``) at it.
It answers the methods the CRM uses with the shape of Slack's real answers, keeps the messages,
views and users it knows about, records every call in order, and can inject the faults Slack
produces (429 with ``Retry-After``, 5xx, ``ok: false`` errors, slow answers).

Every payload that carries ``blocks`` or a ``view`` goes through :mod:`bot.dev.blockkit_check`;
what it finds lands in :attr:`SlackStandIn.block_errors`, and the call is refused the way Slack
refuses it (``invalid_blocks`` for messages, ``invalid_arguments`` for views). Problems Slack only
warns about or silently works around (no fallback ``text``, text past 40,000 characters) are
recorded but the call succeeds, as it would on Slack.

    with SlackStandIn() as slack:
        slack.add_channel("C1", name="sales")
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.messages("C1")[0]["text"] == "hi"
        assert slack.block_errors == []

Where things are, one module per Slack API family:

* ``server.py``: the HTTP server, :class:`Call` recording, ``wait_for``, ``fail_next`` and
  ``set_latency`` (fault injection);
* ``workspace.py``: users, channels, messages and views the stand-in holds, seeding
  (``add_user``, ``add_channel``) and the rules the families share;
* ``chat.py``, ``conversations.py``, ``users.py`` (with ``auth.test`` and ``team.info``),
  ``views.py``, ``reactions.py``, ``files.py``: the ``_api_*`` methods of each family;
* ``responses.py``: ``response_url`` minting and posts;
* ``oauth.py``: ``oauth.v2.access`` (installs, org-wide installs, token rotation), ``auth.test``
  per token, and revoked or expired tokens.
"""

from __future__ import annotations

from bot.dev.standin.chat import ChatMethods
from bot.dev.standin.conversations import ConversationMethods
from bot.dev.standin.files import FileMethods
from bot.dev.standin.oauth import OAuthMethods
from bot.dev.standin.reactions import ReactionMethods
from bot.dev.standin.responses import ResponseUrls
from bot.dev.standin.server import Call
from bot.dev.standin.users import UserMethods
from bot.dev.standin.views import ViewMethods

__all__ = ["Call", "SlackStandIn"]


class SlackStandIn(
    OAuthMethods, ChatMethods, ConversationMethods, FileMethods, ReactionMethods, ResponseUrls, UserMethods, ViewMethods
):
    """A threaded HTTP server on 127.0.0.1 that answers like ``https://slack.com/api/``."""
