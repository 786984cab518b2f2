"""A deal's stage from an export: won and lost first, then the workspace's stages, then the vendor's.

The rule, in order:

1. **Closed**: a status column says won or lost (Pipedrive's ``Deal - Status``: open, won,
   lost; Salesforce's ``ISWON`` and ``ISCLOSED``: closed and not won is lost).
2. **The workspace's own stages**: the stage text is one of ``CRM_DEAL_STAGES``' keys,
   labels or aliases ("Negotiation", "negotiation").
3. **The vendor's standard stages**: Salesforce's "Prospecting" … "Closed Won", HubSpot's
   ``appointmentscheduled`` … ``closedlost``, Pipedrive's "Lead In" … (see
   :mod:`crm.importer.vendors`), when the stage they correspond to is in the workspace.
4. **Anything else is kept as it is** (a retired stage, shown with 🗂️ until someone moves
   the deal) and listed in the report, so an admin can add it to ``CRM_DEAL_STAGES`` (or
   as an alias of a stage) and re-run with ``--update``.

A deal with no stage at all goes into the first open stage.
"""

from __future__ import annotations

from crm.fixed_lists import word_key
from crm.importer.values import stage_key
from crm.importer.vendors import VENDORS, Vendor
from crm.pipeline_stages import LOST, WON, PipelineStages

KEPT = "kept as it is"
_TRUE = frozenset({"true", "yes", "1", "y", "x"})
_STATUS = {"won": WON, "lost": LOST, "closed won": WON, "closed lost": LOST}


def closed_status(status: str, is_won: str, is_closed: str) -> str | None:
    """won / lost / None (open, or not said)."""
    found = _STATUS.get(word_key(status))
    if found is not None:
        return found
    if is_won and word_key(is_won) in _TRUE:
        return WON
    if is_closed and word_key(is_closed) in _TRUE:
        return LOST if is_won else None  # closed, and ISWON said false
    return None


def _normal(text: str) -> str:
    return " ".join(word_key(text).replace(".", " ").replace("/", " ").replace("-", " ").split())


def resolve_stage(text: str, stages: PipelineStages, vendor: Vendor | None) -> tuple[str, str]:
    """(stage key, how): how is "" for a stage of the workspace, KEPT for an unknown one."""
    if not text:
        return stages.open_keys[0], "no stage given"
    own = stages.resolve(text)
    if own is not None:
        return own.key, ""
    normal = _normal(text)
    for v in (vendor, *VENDORS) if vendor else VENDORS:
        if v is None:
            continue
        target = v.stages.get(normal) or v.stages.get(normal.replace(" ", ""))
        if target is not None and stages.is_active(target):
            return target, f"{v.label}'s stage"
    key = stage_key(text)
    if key in (WON, LOST):
        return key, ""
    return key, KEPT
