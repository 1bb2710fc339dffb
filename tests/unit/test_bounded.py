"""Safe and bounded: redaction, control characters, permissions, paging limits, messages."""

from __future__ import annotations

from atria_tui.secrets import redact


def test_redact_masks_bearer_and_basic_credentials_but_not_product_names() -> None:
    text = ("M365 Business Basic licences; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x; "
            "Basic YXRyaWFfZGVtbytwdWI6cHJpdg==")
    assert redact(text, []) == ("M365 Business Basic licences; Authorization: Bearer ***; "
                                "Basic ***")
