"""Domain-event handlers of the distribution app."""

from __future__ import annotations

from typing import Any


def on_response_completed(event: str, payload: dict[str, Any]) -> None:
    """A response submitted through an invitation link (its ``meta`` names the invitation) marks
    the invitation "responded". A row update in the submit's own transaction: it commits, or rolls
    back, with the response (nothing leaves the database, so nothing to defer)."""
    invitation_id = (payload.get("meta") or {}).get("invitation_id")
    if not isinstance(invitation_id, int):
        return
    from tenant_apps.distribution.services import invitation_responded

    invitation_responded(
        invitation_id=invitation_id, survey_id=payload["survey_id"], submission_uid=payload["submission_uid"]
    )
