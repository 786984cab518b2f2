"""Custom fields: a workspace's own fields on customers, contacts and deals.

- ``definitions``: define, rename, retire, reorder and edit the options of fields (admins only,
  decided here), with the checks that keep stored values safe;
- ``values``: reading and checking values by type, storing them, showing them.

A field's ``key`` never changes, so renaming (the ``label``) or retiring it loses nothing; list
options have stable keys too.
"""

from crm.custom_fields.definitions import (
    BUILTIN_FIELDS,
    MAX_FIELDS,
    MAX_OPTIONS,
    FieldDef,
    Option,
    add_field,
    check_can_manage,
    define_field,
    get_field,
    list_fields,
    rename_field,
    rename_option,
    reorder_fields,
    retire_field,
    set_options,
    unretire_field,
)
from crm.custom_fields.values import (
    StoredValue,
    clean_value,
    clean_values,
    field_error_key,
    form_values,
    load_values,
    save_values,
    set_values,
    show_value,
    values_by_key,
)

__all__ = [
    "BUILTIN_FIELDS",
    "MAX_FIELDS",
    "MAX_OPTIONS",
    "FieldDef",
    "Option",
    "StoredValue",
    "add_field",
    "check_can_manage",
    "clean_value",
    "clean_values",
    "define_field",
    "field_error_key",
    "form_values",
    "get_field",
    "list_fields",
    "load_values",
    "rename_field",
    "rename_option",
    "reorder_fields",
    "retire_field",
    "save_values",
    "set_options",
    "set_values",
    "show_value",
    "unretire_field",
    "values_by_key",
]
