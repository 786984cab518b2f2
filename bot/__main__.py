"""Entry point: ``crm-bot run | migrate | playground | import | export | dedupe``.

Configuration problems end the program with one sentence on stderr (exit status 2),
never a stack trace.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot import cli_names
from bot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.services import Services

# Heavy modules (SQLAlchemy, slack_sdk, the app) are imported by the verbs that use them, so that
# `crm-bot --help` and a wrong setting answer at once.
log = logging.getLogger("crm-bot")


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-bot", description="A CRM that lives inside Slack.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="serve Slack (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)")
    run.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT, else 3000)")
    run.add_argument("--host", default="0.0.0.0", help="HTTP address to bind (default: 0.0.0.0)")
    sub.add_parser("migrate", help="create or upgrade the database schema, then exit")
    play = sub.add_parser("playground", help="try the app in a browser with a built-in Slack stand-in (no Slack)")
    play.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT, else 3000)")
    play.add_argument("--host", default="127.0.0.1", help="HTTP address to bind (default: 127.0.0.1)")
    play.add_argument("--demo", action="store_true", help="seed a demo workspace (customers, deals, activities)")
    play.add_argument(
        "--database", default=None, help="database URL to use (default: a throwaway SQLite file, not DATABASE_URL)"
    )
    from bot import cli_install

    cli_install.add_parsers(sub)
    words = list(sys.argv[1:] if argv is None else argv)
    if any(word in cli_names.COMMANDS for word in words[:1]):
        from bot import cli_data  # the importer, exporter and duplicate finder: only for these verbs

        cli_data.add_parsers(sub)
    else:  # listed in the help, without loading what they need
        for name, summary in cli_names.SUMMARIES.items():
            sub.add_parser(name, help=summary)
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if level != "DEBUG":
        # Alembic announces every plugin and revision at INFO; our own line says where the schema is.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # APScheduler logs every run of every job at INFO (thousands of lines a day); its warnings
        # (a missed or overlapping run) still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _migrate(services: Services) -> None:
    log.info("database schema is at revision %s", services.migrate())


def cmd_migrate(settings: Settings) -> int:
    from bot.services import Services

    services = Services.from_settings(settings)
    _migrate(services)
    services.close()
    return 0


def cmd_playground(settings: Settings, host: str, *, demo: bool, database: str | None) -> int:
    from bot.config import _check_database_url

    # The one sanctioned import of bot.dev from production code, and lazy on purpose: only the
    # playground verb (and `run` without Slack credentials, which falls back to it) loads the
    # development tools; a production `run` never does (tests/test_dev_room.py checks that).
    from bot.dev.playground import serve

    database_url = _check_database_url(database) if database else None
    _check_port(host, settings.port)
    return serve(settings, host=host, port=settings.port, demo=demo, database_url=database_url)


def _check_port(host: str, port: int) -> None:
    from bot.server import port_problem

    problem = port_problem(host, port)
    if problem:
        raise ConfigError(problem)


# auth.test errors that mean the token itself is wrong (not that Slack is having a bad moment).
TOKEN_REFUSED = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}


def _check_token(settings: Settings) -> str | None:
    """Ask Slack who the bot token belongs to before serving, so that a wrong token is one sentence
    at start instead of a failure when Slack first calls in. An unreachable Slack only warns: the
    app must still start while Slack has a bad moment."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=5)
    try:
        who = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in TOKEN_REFUSED:
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-...) from the "
                "app's OAuth & Permissions page, and reinstall the app if it was revoked."
            ) from None
        log.warning("Slack's auth.test answered %s; starting anyway", error)
        return None
    except OSError as exc:  # urllib's URLError, timeouts, refused connections
        log.warning(
            "could not reach Slack at %s to check the bot token (%s); starting anyway", settings.slack_api_url, exc
        )
        return None
    log.info("Slack token checked: the app is %s in %s (%s)", who.get("user"), who.get("team"), who.get("team_id"))
    return who.get("team_id")


def cmd_run(settings: Settings, host: str) -> int:
    from bot.app import create_app
    from bot.server import make_server, make_wsgi_app

    if not settings.has_slack_credentials:
        _check_port("127.0.0.1", settings.port)
        print(
            "crm-bot: SLACK_BOT_TOKEN is not set, so this starts the local playground at "
            f"http://127.0.0.1:{settings.port}/ with demo data; to connect to real Slack, "
            "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN), "
            'as "Create the Slack app" in README.md explains.',
            file=sys.stderr,
            flush=True,
        )
        return cmd_playground(settings, "127.0.0.1", demo=True, database=None)
    settings.require_slack()
    _check_port(host, settings.port)
    # OAuth: each workspace's token is checked by Bolt as its requests come.
    team = None if settings.oauth else _check_token(settings)
    from slack_sdk.errors import SlackApiError

    from bot.services import Services

    services = Services.from_settings(settings)
    _migrate(services)
    if team:  # a working token: the app is installed there (again, after an uninstall)
        from crm.workspaces import mark_installed

        mark_installed(services.session_factory, team_id=team, enterprise_id=None, now=services.now())
    app = create_app(services)
    threading.Thread(target=services.warm_caches, name="warm-caches", daemon=True).start()
    from reminders.scheduler import start_scheduler

    scheduler = start_scheduler(services)

    mail_app, smtp = _start_mail(services, settings)
    wsgi = make_wsgi_app(None if settings.socket_mode else app, services.engine, mail=mail_app)
    server = make_server(wsgi, host=host, port=settings.port, threads=settings.web_threads)

    stopping = threading.Event()

    def shutdown(signum, _frame) -> None:
        # Only note it: an exception raised here could land inside waitress's handling of a
        # connection, which swallows it and serves on (seen under load: SIGTERM ignored).
        log.info("signal %s: shutting down", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    socket_handler = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        socket_handler = SocketModeHandler(app, settings.slack_app_token)
        try:
            socket_handler.connect()
        except SlackApiError as exc:
            raise ConfigError(
                f"Slack refused the Socket Mode connection ({exc.response.get('error')}): check that "
                "SLACK_APP_TOKEN is an app-level token with the connections:write scope and that Socket "
                "Mode is on for the app."
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"Could not reach Slack at {settings.slack_api_url} for Socket Mode ({exc}); check the "
                "network and SLACK_API_URL."
            ) from None
        log.info("connected to Slack in Socket Mode; health check on port %s%s", settings.port, "/healthz")
    else:
        log.info("listening for Slack on http://%s:%s/slack/events", host, settings.port)
    serving = threading.Thread(target=_serve, args=(server,), name="http", daemon=True)
    serving.start()
    try:
        # The main thread waits for a signal (handlers run here, between waits) or a dead server.
        while not stopping.wait(0.5) and serving.is_alive():
            pass
    finally:
        scheduler.shutdown(wait=False)
        if smtp is not None:
            smtp.stop()
        if socket_handler is not None:
            socket_handler.close()
        # Let requests in flight finish (they may still write to their sockets), then close.
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=10)
        server.close()
        serving.join(timeout=5)
        services.close()
    return 0


def _start_mail(services: Services, settings: Settings):
    """Email capture (issue 17), when CRM_MAIL_DOMAIN is set: the webhooks, and the SMTP receiver
    when CRM_MAIL_SMTP_PORT is set too. Returns (the webhooks' WSGI app or None, the receiver or None)."""
    if not settings.mail_domain:
        return None, None
    from bot.app import make_web_client
    from bot.mail.intake import MailIntake
    from bot.mail.smtp import start_smtp
    from bot.mail.webhooks import make_mail_app

    intake = MailIntake(services, make_web_client(services))
    smtp = None
    if settings.mail_smtp_port:
        _check_port(settings.mail_smtp_host, settings.mail_smtp_port)
        smtp = start_smtp(intake, host=settings.mail_smtp_host, port=settings.mail_smtp_port)
    log.info("capturing email for *@%s (webhooks at /mail/sendgrid and /mail/mailgun)", settings.mail_domain)
    return make_mail_app(intake), smtp


def _serve(server) -> None:
    with contextlib.suppress(OSError):  # the socket was closed by the shutdown above
        server.run()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser(argv).parse_args(argv)
    if args.command is None:
        _parser(argv).print_help()
        return 2
    try:
        settings = load_settings(port=getattr(args, "port", None))
        _setup_logging(settings.log_level)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "run":
            return cmd_run(settings, args.host)
        if args.command == "playground":
            return cmd_playground(settings, args.host, demo=args.demo, database=args.database)
        if args.command == "purge":
            from bot.cli_install import cmd_purge

            return cmd_purge(settings, args.team, yes=args.yes)
        if args.command == "rotate-key":
            from bot.cli_install import cmd_rotate_key

            return cmd_rotate_key(settings)
        if args.command in cli_names.COMMANDS:
            from bot import cli_data

            return cli_data.run(args, settings)
    except ConfigError as err:
        print(f"crm-bot: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`crm-bot dedupe | head`): stop without a traceback, and keep
        # Python from failing again when it flushes stdout at exit (as its docs advise).
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
