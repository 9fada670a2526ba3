from __future__ import annotations

from shared_apps.core.tasks import tenant_task
from tenant_apps.surveys.models import Publication
from tenant_apps.surveys.services import publication_compile_run


@tenant_task(name="tenant_apps.surveys.tasks.publication_compile", soft_time_limit=60, time_limit=90)
def publication_compile(*, schema_name: str, publication_id: int) -> str:
    """Compile the logic graph of a publish request; publish a version or record the errors."""
    publication = Publication.objects.filter(pk=publication_id).first()
    if publication is None:
        return "missing"
    return publication_compile_run(publication=publication).status
