"""The App Home's Team section for managers and admins, and the details its rows open."""

from commands.team.handlers import register, team_section

__all__ = ["register", "team_section"]
