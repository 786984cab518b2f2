"""Defining custom fields: admins only; keys stable, labels free, options kept while in use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.customers.values import clean_text, recorded_id
from crm.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm.lookup import bump_search_version
from crm.models import FIELD_KEY, FIELD_LABEL, CustomField, CustomFieldValue, utcnow
from crm.states import AuditAction, FieldEntity, FieldType

MAX_FIELDS = 25  # live fields per kind of record: the edit modal holds 100 blocks in all
MAX_OPTIONS = 100  # a static_select holds at most 100 options
MAX_OPTION_LABEL = 75  # Slack's limit for an option's text
LIST_TYPES = (FieldType.ONE_OF, FieldType.SEVERAL_OF)
ONLY_ADMINS = "Only workspace admins can change custom fields. Ask one of them to do it."

# The built-in fields of each kind of record, as a custom field's key or label may not be
# named (compared as :func:`word`), so nobody can shadow "Phone" with a field of their own.
_ADDRESS = ("street", "city", "region", "state", "postal code", "zip", "country", "address")
BUILTIN_FIELDS: dict[str, frozenset[str]] = {
    FieldEntity.CUSTOMER: frozenset(
        (
            "id",
            "name",
            "company",
            "customer",
            "website",
            "domain",
            "owner",
            "notes",
            "phone",
            "industry",
            "employees",
            "number of employees",
            "annual revenue",
            "revenue",
            "currency",
            "description",
            "tags",
            "tag",
            "lifecycle stage",
            "lifecycle",
            "stage",
            "created",
            "created at",
            "created by",
            "updated",
            "external ref",
            *(f"billing {a}" for a in _ADDRESS),
            *(f"shipping {a}" for a in _ADDRESS),
            *_ADDRESS,
        )
    ),
    FieldEntity.CONTACT: frozenset(
        (
            "id",
            "name",
            "email",
            "phone",
            "work phone",
            "mobile phone",
            "mobile",
            "title",
            "customer",
            "company",
            "created",
            "created at",
            "external ref",
            *_ADDRESS,
        )
    ),
    FieldEntity.DEAL: frozenset(
        (
            "id",
            "title",
            "name",
            "amount",
            "currency",
            "stage",
            "expected close",
            "close date",
            "owner",
            "customer",
            "company",
            "closed",
            "closed at",
            "created",
            "created at",
            "external ref",
        )
    ),
}
ENTITY_WORDS = {FieldEntity.CUSTOMER: "customers", FieldEntity.CONTACT: "contacts", FieldEntity.DEAL: "deals"}


def word(text: str) -> str:
    """How keys and labels are compared: "Annual  Revenue" == "annual_revenue" == "annual-revenue"."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


def key_for(label: str) -> str:
    """A stable key from a label: "Contract end (date)" → "contract_end_date"."""
    key = word(label).replace(" ", "_")[:FIELD_KEY]
    return key if key and key[0].isalpha() else f"f_{key}"[:FIELD_KEY]


@dataclass(frozen=True)
class Option:
    key: str
    label: str


@dataclass(frozen=True)
class FieldDef:
    """A custom field as the rules and the Slack layer use it (detached from the session)."""

    id: int
    entity: str
    key: str
    label: str
    type: FieldType
    options: tuple[Option, ...]
    position: int
    retired: bool

    @classmethod
    def of(cls, row: CustomField) -> FieldDef:
        options = tuple(Option(str(o["key"]), str(o["label"])) for o in row.options or () if isinstance(o, dict))
        return cls(
            row.id, row.entity, row.key, row.label, FieldType(row.type), options, row.position, bool(row.retired_at)
        )

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)

    def option_label(self, key: str) -> str:
        """An option's label; a key no longer in the list shows as itself."""
        found = self.option(key)
        return found.label if found else key


def check_can_manage(actor: Actor) -> None:
    """Custom fields are the workspace's shape: only admins define or change them."""
    if not actor.is_admin:
        raise PermissionDenied(ONLY_ADMINS)


def _entity(entity: str) -> FieldEntity:
    try:
        return FieldEntity(entity)
    except ValueError:
        raise InvalidInput("Custom fields go on customers, contacts or deals.", field="entity") from None


def _type(kind: str) -> FieldType:
    try:
        return FieldType(kind)
    except ValueError:
        names = ", ".join(t.value for t in FieldType)
        raise InvalidInput(f"“{kind[:30]}” isn't a field type. Pick one of {names}.", field="type") from None


def _clean_label(label: str | None) -> str:
    text = clean_text(label, limit=FIELD_LABEL, field="label", label="field name", required=True)
    assert text is not None
    if not word(text):
        raise InvalidInput("The field name needs at least one letter or digit.", field="label")
    return text


def _refuse_builtin(entity: FieldEntity, *names: str) -> None:
    for name in names:
        if word(name) in BUILTIN_FIELDS[entity]:
            raise InvalidInput(
                f"“{name[:40]}” is already a built-in field of {ENTITY_WORDS[entity]}. Pick another name, "
                "such as one saying what makes yours different.",
                field="label",
            )


def _refuse_taken(session: Session, workspace_id: int, entity: str, label: str, exclude_id: int | None) -> None:
    """Live or retired, two fields of one kind of record never share a name (a retired one can come back)."""
    for row in session.scalars(
        select(CustomField).where(
            CustomField.workspace_id == workspace_id, CustomField.entity == entity, CustomField.deleted_at.is_(None)
        )
    ):
        if row.id != exclude_id and word(row.label) == word(label):
            state = " (retired; bring it back instead)" if row.retired_at else ""
            raise InvalidInput(f"There is already a field called “{row.label}”{state}.", field="label")


_RENAME = re.compile(r"\s*(?:→|->)\s*")  # "old → new" on a line of the options renames that option


def _clean_options(labels: list[str] | None, existing: tuple[Option, ...] = ()) -> list[dict[str, str]]:
    """Options from labels, in order: one matching an existing option (by :func:`word`) keeps its key."""
    by_word = {word(o.label): o for o in existing}
    used_keys = {o.key for o in existing}
    options: list[dict[str, str]] = []
    seen: set[str] = set()
    for raw in labels or ():
        label = " ".join((raw or "").split())
        if not label:
            continue
        renamed = _RENAME.split(label, maxsplit=1) if existing else [label]
        if len(renamed) == 2:  # "Gold → Platinum": the option keeps its key, and every value using it
            old_label, label = (part.strip() for part in renamed)
            old = by_word.get(word(old_label))
            if old is None:
                raise InvalidInput(f"“{old_label}” isn't one of the options, so it can't be renamed.", field="options")
            by_word.pop(word(old_label))
            w = word(label)
            if not w or len(label) > MAX_OPTION_LABEL or w in seen:
                raise InvalidInput(f"“{label}” can't be the new name of “{old.label}”.", field="options")
            seen.add(w)
            options.append({"key": old.key, "label": label})
            continue
        if len(label) > MAX_OPTION_LABEL:
            raise InvalidInput(
                f"The option “{label[:30]}…” is too long: at most {MAX_OPTION_LABEL} characters.", field="options"
            )
        w = word(label)
        if not w:
            raise InvalidInput(f"The option “{label}” needs a letter or digit.", field="options")
        if w in seen:
            raise InvalidInput(f"The option “{label}” is listed twice.", field="options")
        seen.add(w)
        old = by_word.get(w)
        if old is not None:
            options.append({"key": old.key, "label": label})
            continue
        key = key_for(label)
        n = 2
        while key in used_keys:
            key, n = f"{key_for(label)[: FIELD_KEY - 4]}_{n}", n + 1
        used_keys.add(key)
        options.append({"key": key, "label": label})
    if len(options) > MAX_OPTIONS:
        raise InvalidInput(f"A list holds at most {MAX_OPTIONS} options; this one has {len(options)}.", field="options")
    return options


def _row(session: Session, workspace_id: int, field_id: int) -> CustomField:
    row = session.get(CustomField, field_id, with_for_update=True)
    if row is None or row.workspace_id != workspace_id or row.deleted_at is not None:
        raise NotFound("That custom field no longer exists.")
    return row


# -- queries ---------------------------------------------------------------------------------
def list_fields(
    sf: sessionmaker[Session], workspace_id: int, entity: str | None = None, *, include_retired: bool = False
) -> list[FieldDef]:
    """The workspace's fields in their order (per kind of record), live ones only unless asked."""
    with sf() as session:
        return fields_in(session, workspace_id, entity, include_retired=include_retired)


def fields_in(
    session: Session, workspace_id: int, entity: str | None = None, *, include_retired: bool = False
) -> list[FieldDef]:
    query = select(CustomField).where(CustomField.workspace_id == workspace_id, CustomField.deleted_at.is_(None))
    if entity is not None:
        query = query.where(CustomField.entity == entity)
    if not include_retired:
        query = query.where(CustomField.retired_at.is_(None))
    query = query.order_by(CustomField.entity, CustomField.position, CustomField.id)
    return [FieldDef.of(row) for row in session.scalars(query)]


def get_field(sf: sessionmaker[Session], workspace_id: int, field_id: int) -> FieldDef:
    with sf() as session:
        row = session.get(CustomField, field_id)
        if row is None or row.workspace_id != workspace_id or row.deleted_at is not None:
            raise NotFound("That custom field no longer exists.")
        return FieldDef.of(row)


# -- changes (admins only) ----------------------------------------------------------------------
def define_field(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    actor: Actor,
    entity: str,
    label: str,
    type: str,
    options: list[str] | None = None,
    key: str | None = None,
) -> FieldDef:
    """A new field at the end of its kind of record's list. ``key`` defaults to one made from the label."""
    check_can_manage(actor)
    with sf.begin() as session:
        return add_field(
            session,
            workspace_id,
            by=recorded_id(actor.user_id),
            entity=entity,
            label=label,
            type=type,
            options=options,
            key=key,
        )


def add_field(
    session: Session,
    workspace_id: int,
    *,
    by: str,
    entity: str,
    label: str,
    type: str,
    options: list[str] | None = None,
    key: str | None = None,
) -> FieldDef:
    """:func:`define_field` inside the caller's transaction, for callers that decided who may (an import)."""
    kind, field_type, text = _entity(entity), _type(type), _clean_label(label)
    stable = key_for(key or text)
    _refuse_builtin(kind, text, stable.replace("_", " "))
    opts = _clean_options(options)
    if field_type in LIST_TYPES and not opts:
        raise InvalidInput("A list field needs at least one option, one per line.", field="options")
    if field_type not in LIST_TYPES and opts:
        raise InvalidInput("Only one-of-a-list and several-of-a-list fields have options.", field="options")
    bump_search_version(session, workspace_id)  # serialises field changes per workspace
    _refuse_taken(session, workspace_id, kind, text, None)
    rows = session.scalars(
        select(CustomField).where(CustomField.workspace_id == workspace_id, CustomField.entity == kind)
    ).all()
    if sum(1 for r in rows if r.retired_at is None and r.deleted_at is None) >= MAX_FIELDS:
        raise InvalidInput(
            f"{ENTITY_WORDS[kind].capitalize()} already have {MAX_FIELDS} custom fields, the most a form can "
            "show. Retire one first.",
            field="label",
        )
    if any(r.key == stable for r in rows):
        raise InvalidInput(f"A field with the key “{stable}” existed before; pick another name.", field="label")
    row = CustomField(
        workspace_id=workspace_id,
        entity=kind,
        key=stable,
        label=text,
        type=field_type,
        options=opts,
        position=max((r.position for r in rows), default=-1) + 1,
        created_by=by,
    )
    session.add(row)
    session.flush()
    audit.change(session, row, AuditAction.CREATE, actor=by)
    return FieldDef.of(row)


def _change(
    sf: sessionmaker[Session], workspace_id: int, field_id: int, actor: Actor, action: AuditAction, apply: Any
) -> FieldDef:
    check_can_manage(actor)
    by = recorded_id(actor.user_id)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        row = _row(session, workspace_id, field_id)
        before = audit.snapshot(row)
        apply(session, row)
        row.updated_by = by
        session.flush()
        audit.change(session, row, action, actor=by, before=before)
        return FieldDef.of(row)


def rename_field(sf: sessionmaker[Session], workspace_id: int, field_id: int, *, actor: Actor, label: str) -> FieldDef:
    """A new label; the key, and so every stored value, stays."""
    text = _clean_label(label)

    def apply(session: Session, row: CustomField) -> None:
        _refuse_builtin(FieldEntity(row.entity), text)
        _refuse_taken(session, workspace_id, row.entity, text, row.id)
        row.label = text

    return _change(sf, workspace_id, field_id, actor, AuditAction.UPDATE, apply)


def retire_field(sf: sessionmaker[Session], workspace_id: int, field_id: int, *, actor: Actor) -> FieldDef:
    """Hide a field from cards and forms; its values stay, and :func:`unretire_field` brings them back."""

    def apply(session: Session, row: CustomField) -> None:
        if row.retired_at is not None:
            raise Conflict(f"“{row.label}” is retired already.")
        row.retired_at, row.retired_by = utcnow(), actor.user_id

    return _change(sf, workspace_id, field_id, actor, AuditAction.RETIRE, apply)


def unretire_field(sf: sessionmaker[Session], workspace_id: int, field_id: int, *, actor: Actor) -> FieldDef:
    def apply(session: Session, row: CustomField) -> None:
        if row.retired_at is None:
            raise Conflict(f"“{row.label}” is in use already.")
        live = session.scalar(
            select(func.count())
            .select_from(CustomField)
            .where(
                CustomField.workspace_id == workspace_id,
                CustomField.entity == row.entity,
                CustomField.retired_at.is_(None),
                CustomField.deleted_at.is_(None),
            )
        )
        if (live or 0) >= MAX_FIELDS:
            raise InvalidInput(f"There are {MAX_FIELDS} live fields already; retire one first.", field="label")
        _refuse_taken(session, workspace_id, row.entity, row.label, row.id)
        row.retired_at, row.retired_by = None, None

    return _change(sf, workspace_id, field_id, actor, AuditAction.UNRETIRE, apply)


def reorder_fields(
    sf: sessionmaker[Session], workspace_id: int, entity: str, field_ids: list[int], *, actor: Actor
) -> list[FieldDef]:
    """Put the fields of ``entity`` in this order (ids not listed keep their place after these)."""
    check_can_manage(actor)
    by = recorded_id(actor.user_id)
    kind = _entity(entity)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        rows = session.scalars(
            select(CustomField)
            .where(CustomField.workspace_id == workspace_id, CustomField.entity == kind)
            .order_by(CustomField.position, CustomField.id)
        ).all()
        known = {r.id for r in rows}
        unknown = [i for i in field_ids if i not in known]
        if unknown or len(set(field_ids)) != len(field_ids):
            raise InvalidInput("That order names a field that isn't one of these, or names one twice.", field="order")
        ranked = {fid: n for n, fid in enumerate(field_ids)}
        ordered = sorted(rows, key=lambda r: (ranked.get(r.id, len(ranked)), r.position, r.id))
        for n, row in enumerate(ordered):
            if row.position != n:
                before = audit.snapshot(row)
                row.position, row.updated_by = n, by
                session.flush()
                audit.change(session, row, AuditAction.UPDATE, actor=by, before=before)
        return [FieldDef.of(r) for r in ordered if r.retired_at is None and r.deleted_at is None]


def _uses(session: Session, row: CustomField) -> dict[str, int]:
    """How many records hold each option key of a list field."""
    counts: dict[str, int] = {}
    for text, chosen in session.execute(
        select(CustomFieldValue.value_text, CustomFieldValue.value_list).where(CustomFieldValue.field_id == row.id)
    ):
        for key in {text} if text else set(chosen or ()):
            counts[key] = counts.get(key, 0) + 1
    return counts


def set_options(
    sf: sessionmaker[Session], workspace_id: int, field_id: int, labels: list[str], *, actor: Actor
) -> FieldDef:
    """The list's options, in order: labels matching an existing option keep its key (and its
    values); a new label is a new option; an option left out is removed, refused while any
    record still uses it (the sentence says how many)."""

    def apply(session: Session, row: CustomField) -> None:
        if row.type not in LIST_TYPES:
            raise InvalidInput(f"“{row.label}” isn't a list field, so it has no options.", field="options")
        current = FieldDef.of(row)
        options = _clean_options(labels, current.options)
        if not options:
            raise InvalidInput("A list field needs at least one option, one per line.", field="options")
        kept = {o["key"] for o in options}
        uses = _uses(session, row)
        for option in current.options:
            if option.key not in kept and uses.get(option.key):
                n = uses[option.key]
                records = (
                    ENTITY_WORDS[FieldEntity(row.entity)] if n != 1 else ENTITY_WORDS[FieldEntity(row.entity)][:-1]
                )
                raise InvalidInput(
                    f"“{option.label}” is still used by {n} {records}; change them to another option first.",
                    field="options",
                )
        row.options = options

    return _change(sf, workspace_id, field_id, actor, AuditAction.UPDATE, apply)


def rename_option(
    sf: sessionmaker[Session], workspace_id: int, field_id: int, option_key: str, label: str, *, actor: Actor
) -> FieldDef:
    """A new label for one option; records that use it keep it."""

    def apply(session: Session, row: CustomField) -> None:
        current = FieldDef.of(row)
        if current.option(option_key) is None:
            raise NotFound("That option is no longer in the list.")
        # The same checks as a new list (length, a letter, not listed twice), keys kept by position.
        labels = [label if o.key == option_key else o.label for o in current.options]
        checked = _clean_options(labels)
        row.options = [{"key": o.key, "label": c["label"]} for o, c in zip(current.options, checked, strict=True)]

    return _change(sf, workspace_id, field_id, actor, AuditAction.UPDATE, apply)
