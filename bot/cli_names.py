"""The data verbs of ``crm-bot`` and their one-line help, without importing what they need.

``crm-bot --help`` (and every other verb) builds its parser from these, so that only a data verb
pays for loading the importer, the exporter and the duplicate finder (``bot/cli_data.py``).
"""

from __future__ import annotations

SUMMARIES = {
    "import": "import customers, contacts, deals and activities from CSV (or restore an export)",
    "export": "write every table of a workspace as CSV and JSON Lines",
    "dedupe": "list probable duplicate customers and contacts",
}
COMMANDS = tuple(SUMMARIES)
