"""How an Atria SKU is compared with PSA lines and catalog items: the one PSA-specific rule.

Kept apart from reconcile so the rest of the matching stays identical for both PSAs.
"""

from __future__ import annotations

from collections.abc import Mapping

from atria_tui.core.model import CatalogItem, PsaLine, Task, norm
from atria_tui.psa import profile_of


class MatchRule:
    """How an Atria SKU is compared with PSA lines and catalog items.

    ConnectWise compares with the product identifier; Kaseya with the field named by
    SKUFieldMatch (service name, description, or the `SKU:` prefix of the description) of
    the *catalog service*: a contract line matches through the service it carries, so a
    description edited on the contract line does not break the match (the guide: "a
    Service with '{SkuFieldMatch}': '{Sku}' exists and is active").
    """

    def __init__(self, task: Task, sku_field_match: str = "ServiceName",
                 services: Mapping[str, CatalogItem] | None = None) -> None:
        self.by_code = profile_of(task).match_by_product_code
        self.mode = "code" if self.by_code else norm(sku_field_match)
        self.services = services or {}

    def _key(self, code: str, description: str) -> str:
        if self.mode == "description":
            return norm(description)
        if self.mode == "skudescription":
            head, sep, _ = description.partition(":")
            return norm(head) if sep else ""
        return norm(code)

    def line_key(self, line: PsaLine) -> str:
        service = None if self.by_code else self.services.get(line.product_id)
        if service is not None:
            return self.item_key(service)
        return self._key(line.product_code, line.description)

    def item_key(self, item: CatalogItem) -> str:
        return self._key(item.code, item.description)
