"""manifest.yml is valid against Slack's published schema and declares what the app handles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from commands.rooms.handlers import CHANNEL_EVENTS

ROOT = Path(__file__).resolve().parents[2]
# Slack's app manifest JSON schema (MIT, Slack Technologies): kept beside the checkout, not in it;
# CRM_MANIFEST_SCHEMA points at a copy anywhere else.
SCHEMA = Path(os.environ.get("CRM_MANIFEST_SCHEMA") or ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_is_valid_against_slacks_schema(manifest):
    if not SCHEMA.exists():
        pytest.skip(
            f"Slack's app manifest schema is not at {SCHEMA}: to run this check, save Slack's "
            "manifest.schema.1.0.0.json there, or anywhere with CRM_MANIFEST_SCHEMA=/path/to/it"
        )
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest, schema)


def test_manifest_declares_the_commands_shortcuts_and_events(manifest):
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {"/crm", "/customer", "/log"}
    shortcuts = {(s["name"], s["type"]) for s in manifest["features"]["shortcuts"]}
    assert ("Log to CRM", "message") in shortcuts
    assert ("Who's talked to them?", "message") in shortcuts
    assert ("Log a call", "global") in shortcuts
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "app_home_opened",
        # linked channels and alert channels (commands/rooms/handlers.py: CHANNEL_EVENTS)
        *CHANNEL_EVENTS,
        "app_uninstalled",
        "tokens_revoked",
    }
    assert [u.rsplit("/", 2)[-2:] for u in manifest["oauth_config"]["redirect_urls"]] == [["slack", "oauth_redirect"]]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True


def test_manifest_asks_for_few_scopes(manifest):
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # Exactly what the features use (see the comments in manifest.yml); adding one is a decision.
    assert scopes == {
        "commands",
        "chat:write",
        "app_mentions:read",
        "users:read",
        "users:read.email",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "channels:join",
        "im:write",
        "im:history",
        "groups:write",  # /crm room: create the private deal room and invite people
        "files:write",  # the charts (issue 16): the digest's thread, /crm pipeline charts' DM
    }


def test_the_playground_offers_the_manifests_shortcuts(manifest):
    from bot.dev.playground import SHORTCUTS

    declared = {(s["type"], s["callback_id"], s["name"]) for s in manifest["features"]["shortcuts"]}
    assert {(s["type"], s["callback_id"], s["name"]) for s in SHORTCUTS} == declared


def test_an_oauth_install_asks_for_the_manifests_scopes(manifest):
    """ "Add to Slack" requests bot.config.DEFAULT_SCOPES: the same scopes as the manifest, or
    an installed workspace would lack (or be asked for) one the other declares."""
    from bot.config import DEFAULT_SCOPES

    assert set(DEFAULT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])
