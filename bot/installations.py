"""OAuth installs ("Add to Slack"): slack_sdk's SQLAlchemy stores on the app's own database, with
every token encrypted at rest.

* :class:`TokenCipher` is ``cryptography``'s :class:`~cryptography.fernet.MultiFernet` over the keys
  in ``CRM_SECRET_KEY`` (comma-separated, newest first): the first key encrypts, every key decrypts,
  so a new key is rolled out by putting it in front, and ``crm-bot rotate-key`` re-encrypts the rows
  with it before the old key is dropped.
* :class:`EncryptedInstallationStore` wraps slack_sdk's :class:`SQLAlchemyInstallationStore`: tokens
  are sealed on the way in and opened on the way out; everything else is slack_sdk's own code.
* :class:`OneTimeStateStore` is slack_sdk's SQLAlchemy state store whose ``consume`` is a single
  ``DELETE``: of two replicas handling the same callback, exactly one gets the state.
* :class:`Installations` is what the rest of the app asks: the live bot token of a workspace (for
  scheduled sends, rotated when it is about to expire), or None when there is none.

The tables are created by Alembic (``crm/migrations/versions/0014_oauth_installations.py``), never
by ``create_tables``.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Engine, and_, select, update

from crm.models import slack_bots, slack_installations

log = logging.getLogger(__name__)

# The columns that hold secrets, in slack_sdk's Installation / Bot and in our tables.
BOT_SECRETS = ("bot_token", "bot_refresh_token")
INSTALLATION_SECRETS = (*BOT_SECRETS, "user_token", "user_refresh_token", "incoming_webhook_url")
STATE_SECONDS = 600  # an install link works for ten minutes


class KeyMissing(Exception):
    """A stored token could not be opened with any key in CRM_SECRET_KEY."""


class TokenCipher:
    """Fernet encryption with every key of ``CRM_SECRET_KEY``: the first seals, all open."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no key")
        self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])

    @staticmethod
    def parse(raw: str) -> list[str]:
        """The keys of ``CRM_SECRET_KEY``; raises ValueError naming a key that is not a Fernet key."""
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        if not keys:
            raise ValueError("it holds no key")
        for position, key in enumerate(keys, 1):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ValueError(f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)") from None
        return keys

    def seal(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            raise KeyMissing("a stored token opens with no key in CRM_SECRET_KEY") from None

    def reseal(self, value: str | None) -> str | None:
        """The value encrypted with the first key (raises KeyMissing when no key opens it)."""
        if value is None:
            return None
        try:
            return self._fernet.rotate(value.encode()).decode()
        except InvalidToken:
            raise KeyMissing("a stored token opens with no key in CRM_SECRET_KEY") from None


_Record = TypeVar("_Record", Installation, Bot)
AUTHORIZE_CACHE = 10_000  # tokens whose auth.test answer Bolt keeps


class BoundedCache(OrderedDict):
    """A dict that forgets its oldest entries beyond ``limit`` (Bolt's authorize cache)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)


class EncryptedInstallationStore(InstallationStore):
    """slack_sdk's SQLAlchemy installation store, with the tokens encrypted in the database."""

    def __init__(
        self,
        inner: SQLAlchemyInstallationStore,
        cipher: TokenCipher,
        on_saved: Callable[[Installation], None] | None = None,
    ) -> None:
        self.inner = inner
        self.cipher = cipher
        self.on_saved = on_saved

    @property
    def logger(self) -> logging.Logger:
        return self.inner.logger

    def _convert(self, record: _Record, secrets: Iterable[str], how) -> _Record:
        converted = copy.copy(record)
        for name in secrets:
            if hasattr(converted, name):
                setattr(converted, name, how(getattr(converted, name)))
        return converted

    def _open(self, record: _Record | None, secrets: Iterable[str]) -> _Record | None:
        if record is None:
            return None
        try:
            return self._convert(record, secrets, self.cipher.open)
        except KeyMissing:
            log.error(
                "the installation of team %s (org %s) can't be decrypted: CRM_SECRET_KEY no longer holds the key "
                "it was encrypted with (put the old key back at the end of CRM_SECRET_KEY); treated as not installed",
                record.team_id,
                record.enterprise_id,
            )
            return None

    def save(self, installation: Installation) -> None:
        # slack_sdk saves the bot part (installation.to_bot()) from the sealed copy too.
        self.inner.save(self._convert(installation, INSTALLATION_SECRETS, self.cipher.seal))
        if self.on_saved is not None:
            self.on_saved(installation)

    def save_bot(self, bot: Bot) -> None:
        self.inner.save_bot(self._convert(bot, BOT_SECRETS, self.cipher.seal))

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        found = self.inner.find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return self._open(found, BOT_SECRETS)

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = self.inner.find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, is_enterprise_install=is_enterprise_install
        )
        return self._open(found, INSTALLATION_SECRETS)

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self.inner.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)


class OneTimeStateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's state store, consuming a state with one ``DELETE ... WHERE state = ? AND not
    expired``: the database lets one of two racing callbacks delete the row, and only that one
    goes on to exchange the code (slack_sdk's select-then-delete lets both through)."""

    def consume(self, state: str) -> bool:
        if not state:
            return False
        now = datetime.now(UTC).replace(tzinfo=None)
        c = self.oauth_states.c
        with self.engine.begin() as conn:
            deleted = conn.execute(self.oauth_states.delete().where(and_(c.state == state, c.expire_at > now)))
            return deleted.rowcount == 1


def rotate_keys(engine: Engine, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token with the first key of ``cipher``, in one transaction; the
    number of tokens re-encrypted. Raises :class:`KeyMissing` (and changes nothing) when a token
    opens with none of the keys."""
    count = 0
    with engine.begin() as conn:
        for table, secrets in ((slack_installations, INSTALLATION_SECRETS), (slack_bots, BOT_SECRETS)):
            columns = [table.c[name] for name in secrets if name in table.c]
            for row in conn.execute(select(table.c.id, *columns)).mappings():
                values = {col.name: cipher.reseal(row[col.name]) for col in columns if row[col.name] is not None}
                if values:
                    conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
                    count += len(values)
    return count


@dataclass
class OAuthConfig:
    """What OAuth mode needs from the settings."""

    client_id: str
    client_secret: str
    secret_keys: Sequence[str]
    scopes: Sequence[str]
    redirect_uri: str | None = None
    token_rotation_minutes: int = 120
    authorization_url: str | None = None


class Installations:
    """The installation and state stores on the app's database, and a workspace's live token."""

    def __init__(
        self,
        config: OAuthConfig,
        engine: Engine,
        client: WebClient,
        on_saved: Callable[[Installation], None] | None = None,
    ) -> None:
        self.config = config
        self.cipher = TokenCipher(config.secret_keys)
        self.store = EncryptedInstallationStore(
            SQLAlchemyInstallationStore(client_id=config.client_id, engine=engine), self.cipher, on_saved
        )
        self.states = OneTimeStateStore(expiration_seconds=STATE_SECONDS, engine=engine)
        self.client = client
        self.rotator = TokenRotator(client_id=config.client_id, client_secret=config.client_secret, client=client)

    def oauth_settings(self, **callbacks: Any) -> OAuthSettings:
        extra: dict[str, Any] = {}
        if self.config.authorization_url:
            extra["authorization_url"] = self.config.authorization_url
        settings = self._oauth_settings(callbacks, extra)
        # Bolt finds the installation on every request either way (so an uninstalled workspace is
        # refused at once); the cache only spares the auth.test per request for a token already
        # checked. Bounded, since rotating tokens are new every 12 hours.
        authorize = settings.authorize
        if isinstance(authorize, InstallationStoreAuthorize):
            authorize.cache_enabled = True
            authorize.authorize_result_cache = BoundedCache(AUTHORIZE_CACHE)
        return settings

    def _oauth_settings(self, callbacks: dict[str, Any], extra: dict[str, Any]) -> OAuthSettings:
        return OAuthSettings(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scopes=list(self.config.scopes),
            redirect_uri=self.config.redirect_uri,
            installation_store=self.store,
            state_store=self.states,
            state_expiration_seconds=STATE_SECONDS,
            token_rotation_expiration_minutes=self.config.token_rotation_minutes,
            **callbacks,
            **extra,
        )

    def bot_token(self, team_id: str, enterprise_id: str | None) -> str | None:
        """The workspace's bot token: its own install, else its org's org-wide install; rotated
        first when it expires within the rotation window. None when there is none to use."""
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        if bot is None:
            return None
        try:
            refreshed = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.config.token_rotation_minutes
            )
        except (SlackApiError, SlackTokenRotationError) as exc:  # the refresh token was refused
            log.warning("token rotation for team %s failed: %s", team_id, exc)
            return None
        if refreshed is not None:
            self.store.save_bot(refreshed)
            bot = refreshed
        return bot.bot_token
