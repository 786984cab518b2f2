"""The `/crm` umbrella command: one table dispatches the subcommands and generates the help.

Feature modules add their subcommands with :meth:`CommandRouter.add`, each under one of the
help's headings (:data:`TOPICS`). A subcommand may
also own a top-level slash command (``/customer`` for ``/crm find``, ``/log`` for
``/crm log``); both routes end in the same handler. Every slash command is acknowledged
first, then handled, so Slack's 3-second deadline holds whatever the handler does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz.distance import DamerauLevenshtein
from slack_bolt import Ack, App, BoltContext

from commands.blockkit import escape_mrkdwn, fallback_text, truncate
from commands.request import Request, after_ack, request_of

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

UMBRELLA = "/crm"

# The help's headings, in the order it shows them; each subcommand is under one.
CUSTOMERS = "Customers"
ACTIVITIES = "Calls, meetings and follow-ups"
DEALS = "Deals and the pipeline"
ACCOUNTS = "Accounts and the team"
CAPTURE = "Capture without typing"
HELP = "Help"
TOPICS = (CUSTOMERS, ACTIVITIES, DEALS, ACCOUNTS, CAPTURE, HELP)


Handler = Callable[[Request], None]
SlashContext = Request  # the name handlers used before the request context; being phased out


@dataclass(frozen=True)
class Subcommand:
    name: str
    summary: str
    example: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    slash: str | None = None  # a top-level slash command that runs the same handler
    topic: str = HELP  # the heading it is listed under in the help (one of TOPICS)


@dataclass
class CommandRouter:
    subcommands: dict[str, Subcommand] = field(default_factory=dict)
    _lookup: dict[str, Subcommand] = field(default_factory=dict)

    def add(
        self,
        name: str,
        handler: Handler,
        *,
        summary: str,
        example: str,
        aliases: tuple[str, ...] = (),
        slash: str | None = None,
        topic: str = HELP,
    ) -> None:
        if topic not in TOPICS:
            raise ValueError(f"subcommand {name!r}: unknown help topic {topic!r}")
        sub = Subcommand(name, summary, example, handler, aliases, slash, topic)
        for key in (name, *aliases):
            if key in self._lookup:
                raise ValueError(f"subcommand {key!r} registered twice")
            self._lookup[key] = sub
        self.subcommands[name] = sub

    def resolve(self, text: str) -> tuple[Subcommand | None, str, str]:
        """Split ``"find acme corp"`` into (subcommand, ``"acme corp"``, word typed)."""
        words = (text or "").strip().split(None, 1)
        if not words:
            return self._lookup.get("help"), "", ""
        word = words[0].lower()
        rest = words[1] if len(words) > 1 else ""
        return self._lookup.get(word), rest, words[0]

    def near_misses(self, typed: str) -> list[Subcommand]:
        """The subcommands ``typed`` is probably a slip for (``pipline``, ``hlep``, ``folowups``):
        those at the smallest edit distance (a swap of two letters counts once), if it is small
        for the word's length; several when they tie. Empty for a word that is nothing like any."""
        word = typed.lower()
        if not word.isascii() or not 2 <= len(word) <= 20:
            return []
        allowed = 1 if len(word) <= 4 else 2
        best: dict[str, int] = {}
        for key, sub in self._lookup.items():
            if len(key) < 3:
                continue  # "?", "fu": too short to be what a longer slip meant
            distance = DamerauLevenshtein.distance(word, key, score_cutoff=allowed)
            if distance <= allowed:
                best[sub.name] = min(distance, best.get(sub.name, distance))
        if not best:
            return []
        closest = min(best.values())
        return [self.subcommands[name] for name, d in best.items() if d == closest]

    def install(self, app: App, services: Services) -> None:
        """Register `/crm` and every subcommand's own slash command with Bolt."""

        def umbrella(ack: Ack, context: BoltContext) -> None:
            ack()
            req = request_of(context)
            if req is None:
                return
            sub, args, typed = self.resolve(req.args)
            if sub is None:
                guesses = self.near_misses(typed)
                if guesses:
                    req.reply(*did_you_mean(typed, guesses, args))
                    return
                req.reply(
                    fallback_text(f"I don't know `{UMBRELLA} {typed[:40]}`. Here is what I can do:"),
                    blocks=help_blocks(self, unknown=typed),
                )
                return
            req.args, req.command = args, UMBRELLA
            after_ack(req, sub.handler)

        app.command(UMBRELLA)(umbrella)

        def direct_listener(sub: Subcommand):
            def direct(ack: Ack, context: BoltContext) -> None:
                ack()
                req = request_of(context)
                if req is not None:
                    req.command = sub.slash or UMBRELLA
                    after_ack(req, sub.handler)

            return direct

        for sub in self.subcommands.values():
            if sub.slash:
                app.command(sub.slash)(direct_listener(sub))


def did_you_mean(typed: str, guesses: list[Subcommand], args: str) -> tuple[str, list[dict]]:
    """A near miss: the likely command(s) with what the user typed after it, instead of the help."""
    tried = f"`{UMBRELLA} {escape_mrkdwn(typed[:40])}`"
    rest = f" {args.strip()}" if args.strip() else ""
    options = [f"`{UMBRELLA} {sub.name}{escape_mrkdwn(rest[:200])}`" for sub in guesses[:3]]
    question = f":thinking_face: I don't know {tried}. Did you mean {' or '.join(options)}?"
    examples = "   ".join(f"_e.g._ `{sub.example}`" for sub in guesses[:3])
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(question, 3000)}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": truncate(f"{examples}   ·   `{UMBRELLA} help` lists every command.", 3000)}
            ],
        },
    ]
    return fallback_text(f"I don't know {UMBRELLA} {typed[:40]}. Did you mean {UMBRELLA} {guesses[0].name}?"), blocks


def help_blocks(router: CommandRouter, *, unknown: str | None = None) -> list[dict]:
    """The `/crm help` message, generated from the dispatch table."""
    blocks: list[dict] = []
    if unknown:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": truncate(
                        f":thinking_face: I don't know `{UMBRELLA} {escape_mrkdwn(unknown)}`. Here is what I can do:",
                        3000,
                    ),
                },
            }
        )
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": "CRM commands"}})
    for topic in TOPICS:
        lines = [f"*{topic}*"]
        for sub in router.subcommands.values():
            if sub.topic != topic:
                continue
            names = f"`{UMBRELLA} {sub.name}`"
            if sub.slash:
                names += f" or `{sub.slash}`"
            # An example that is just the command again ("/crm help  e.g. /crm help") is left out.
            same = sub.example.strip() in (f"{UMBRELLA} {sub.name}", sub.slash)
            lines.append(f"• {names}: {sub.summary}" + ("" if same else f"\n      _e.g._ `{sub.example}`"))
        if len(lines) == 1:
            continue
        # A section per topic, split where one would pass Slack's 3,000 characters.
        chunk: list[str] = []
        for line in lines:
            if sum(len(x) + 1 for x in chunk) + len(line) > 2800:
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
                chunk = []
            chunk.append(line)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Only you can see this.",
                }
            ],
        }
    )
    return blocks[:50]


def register(app: App, services: Services, router: CommandRouter) -> None:
    """The help subcommand itself."""

    def show_help(ctx: SlashContext) -> None:
        ctx.reply("CRM commands", blocks=help_blocks(router))

    router.add(
        "help",
        show_help,
        summary="Show this list of commands.",
        example=f"{UMBRELLA} help",
        aliases=("?", "commands"),
    )
