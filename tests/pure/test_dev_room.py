"""The development tools stay in their room: production code never loads ``bot.dev``.

A fresh interpreter imports every production module (the entry point, the wiring, and every
``commands``, ``crm`` and ``reminders`` module) and then lists which ``bot.dev`` modules got
loaded; there must be none. Only ``crm-bot playground`` (and ``run`` without Slack credentials)
may load them, lazily, inside ``bot/__main__.py``'s ``cmd_playground``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imports every production module, then prints what was imported and which bot.dev modules came along.
PROBE = """
import importlib, json, pkgutil, sys

import bot

imported = []
for name in ("bot.__main__", "bot.app", "bot.server", "bot.services", "bot.config", "bot.cli_data"):
    importlib.import_module(name)
    imported.append(name)
for info in pkgutil.iter_modules(bot.__path__, "bot."):
    if info.name != "bot.dev":
        importlib.import_module(info.name)
        imported.append(info.name)
for package in ("commands", "crm", "reminders"):
    root = importlib.import_module(package)
    imported.append(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name.startswith("crm.migrations."):
            continue  # Alembic's env.py and revisions run only inside Alembic
        importlib.import_module(info.name)
        imported.append(info.name)
dev = sorted(m for m in sys.modules if m == "bot.dev" or m.startswith("bot.dev."))
print(json.dumps({"imported": imported, "dev": dev}))
"""


def _probe() -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"importing the production modules failed:\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_production_module_loads_the_development_tools():
    found = _probe()
    # The probe really covered the production tree, not an empty list.
    for name in ("bot.__main__", "bot.app", "bot.server", "commands.blockkit", "crm.customers", "reminders.nudges"):
        assert name in found["imported"]
    assert found["dev"] == [], f"production modules loaded development tools: {found['dev']}"
