"""The Home tab's "Admin" section: ``views`` (the section and the settings modal) and
``handlers`` (open it, save it). The settings themselves live in ``crm.workspace_settings``."""

from commands.admin.handlers import register

__all__ = ["register"]
