"""Administrator writes, one module per aggregate: accounts (users.py), organisations (orgs.py), the region tree and
its import (regions.py), the field taxonomy (fields.py).

Keyword-only functions that add and flush; the view (or CLI command) commits once. Refusals are
DomainErrors whose `fields` name the form field each Chinese reason belongs to.
"""
from __future__ import annotations

from .common import references
from .fields import field_create, field_delete, field_move, field_rename
from .orgs import org_update
from .regions import REGION_LAYOUT, RegionImportReport, region_create, region_delete, region_update, regions_import
from .users import user_create, user_reset_password, user_set_active, user_update

__all__ = [
    "REGION_LAYOUT", "RegionImportReport", "field_create", "field_delete", "field_move", "field_rename", "org_update",
    "references", "region_create", "region_delete", "region_update", "regions_import", "user_create",
    "user_reset_password", "user_set_active", "user_update",
]
