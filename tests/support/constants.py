"""The names every layer shares: the Slack app's secrets in tests, the team, and the people the
stand-in knows. ``tests.conftest`` re-exports them (``from tests.conftest import REP`` works)."""

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0TEST"

# Users the stand-in knows: two reps, a manager and a workspace admin.
REP, REP2, MANAGER, ADMIN = "U0REP", "U0REP2", "U0MGR", "U0ADMIN"
