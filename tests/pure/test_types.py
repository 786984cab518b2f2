"""mypy reports no errors on the production packages (configured in pyproject.toml's [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGES = ["bot", "commands", "crm", "reminders"]
# Found by walking up, so the test works wherever it sits under tests/.
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())


def test_mypy_finds_no_errors_in_the_production_packages():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--config-file", "pyproject.toml", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"mypy exited {result.returncode}:\n{output}"
    assert " error: " not in output, output
