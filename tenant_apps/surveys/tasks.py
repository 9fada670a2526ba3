from __future__ import annotations

import logging

from shared_apps.core.tasks import tenant_task
from tenant_apps.surveys.models import Publication
from tenant_apps.surveys.services import publication_compile_run, publication_fail

logger = logging.getLogger(__name__)


@tenant_task(name="tenant_apps.surveys.tasks.publication_compile", soft_time_limit=60, time_limit=90)
def publication_compile(*, schema_name: str, publication_id: int) -> str:
    """Compile the logic graph of a publish request; publish a version or record the errors. Whatever goes
    wrong (including the soft time limit), the publication ends ``failed`` with a reason, never ``pending``."""
    try:
        publication = Publication.objects.filter(pk=publication_id).first()
        if publication is None:
            return "missing"
        return publication_compile_run(publication=publication).status
    except Exception as exc:  # noqa: BLE001 - whatever failed, the publication must not stay pending
        # Record first: reporting the error must not be what leaves the publication pending.
        publication_fail(
            publication_id=publication_id,
            reason="The publication could not be compiled because of an internal error. Request it again; "
            "if it fails again, contact support.",
        )
        logger.error("publication %s in %s: the compile task failed: %r", publication_id, schema_name, exc)
        return Publication.Status.FAILED
