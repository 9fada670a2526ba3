"""What tenant apps plug into the platform: core collects, apps declare.

``shared_apps`` never imports ``tenant_apps``. Each tenant app declares, in its
``AppConfig.ready()``, what the platform must do for it:

- **seeders**: first data in a newly provisioned schema (run in ``order``, inside the tenant's
  context and one transaction, as the application role);
- **partitioned tables**: monthly range-partitioned tables, maintained daily (``retained``: old
  partitions are detached after the organisation's retention period);
- **append-only tables**: the application role may insert and read rows, never change them;
- **e-mail builders**: ``kind`` -> dotted path of ``builder(object_id) -> (to, subject, body) | None``;
- **periodic jobs**: beat entries; a ``per_tenant`` job is fanned out to one task per active
  organisation (with jitter), the task taking ``schema_name``;
- **demo lines**: what ``demo_setup`` prints about an organisation (e.g. the demo survey's link);
- **the audit recorder**: how shared code records an event in an organisation's audit log;
- **teardowns**: what must happen outside the schema when an organisation is hard-deleted (e.g. destroy its
  key-encryption key: crypto-shredding), run by ``tenant_hard_delete`` before the schema is dropped;
- **subject sources**: where a tenant app holds data about a data subject (an e-mail or a respondent
  key): ``find(subject)`` and ``erase(subject, found)``, used by the privacy app's access and erasure
  requests (the protocol lives in ``tenant_apps.privacy.sources``);
- **event handlers**: what runs when a domain event happens in a tenant (``response.completed``,
  ``survey.published``, ``survey.closed``, ``export.completed``, ``billing.changed``); emitters call
  ``emit_event`` inside the tenant's context and transaction, handlers defer their work with ``transaction.on_commit``.

Registration is idempotent by name (``ready()`` may run more than once in tests); listings are
ordered (seeders by ``order`` then name, everything else by name) so behaviour does not depend on
``INSTALLED_APPS`` order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared_apps.accounts.models import User
    from shared_apps.tenants.models import Organisation


@dataclass(frozen=True)
class SeedContext:
    organisation: Organisation
    admin: User | None
    demo: bool


@dataclass(frozen=True)
class Seeder:
    name: str
    seed: Callable[[SeedContext], None]
    order: int = 100


@dataclass(frozen=True)
class PartitionedTable:
    table: str
    # Old monthly partitions are detached after the organisation's ``retention_months``.
    retained: bool = False


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    # Seconds, or a celery ``crontab``/``schedule``.
    schedule: Any
    # True: ``task`` is a tenant task (takes ``schema_name``), sent once per active organisation.
    per_tenant: bool = False
    # Per-tenant fan-out spreads the sends over this many seconds.
    jitter_seconds: float = 5.0
    kwargs: dict[str, Any] | None = None


# ``recorder(*, action, target_type, target_id, changes)``, run inside the tenant's context.
AuditRecorder = Callable[..., Any]


DemoLines = Callable[["Organisation"], list[tuple[str, str]]]

# ``handler(event, payload)``, called inside the emitting tenant's context and transaction.
EventHandler = Callable[[str, dict[str, Any]], None]

# The domain events a tenant app may emit; ``emit_event`` refuses others, so a typo fails loudly.
EVENTS: frozenset[str] = frozenset(
    {"response.completed", "survey.published", "survey.closed", "export.completed", "billing.changed"}
)

_seeders: dict[str, Seeder] = {}
_partitioned: dict[str, PartitionedTable] = {}
_append_only: set[str] = set()
_email_builders: dict[str, str] = {}
_periodic: dict[str, PeriodicJob] = {}
_demo_lines: dict[str, DemoLines] = {}
_audit_recorder: list[AuditRecorder] = []
_subject_sources: dict[str, Any] = {}
# event -> {handler name -> handler(event, payload)}
_event_handlers: dict[str, dict[str, EventHandler]] = {}
# name -> teardown(schema_name), run in name order when an organisation is hard-deleted.
_teardowns: dict[str, Callable[[str], None]] = {}


class RegistryError(ValueError):
    """Unknown name, or one name registered twice with different values."""


def _once(registry: dict[str, Any], key: str, value: Any) -> None:
    if key in registry and registry[key] != value:
        raise RegistryError(f"{key!r} is registered twice with different values.")
    registry[key] = value


# --- declare ------------------------------------------------------------------------------


def register_seeder(*, name: str, seed: Callable[[SeedContext], None], order: int = 100) -> None:
    _once(_seeders, name, Seeder(name=name, seed=seed, order=order))


def register_partitioned_table(*, table: str, retained: bool = False) -> None:
    _once(_partitioned, table, PartitionedTable(table=table, retained=retained))


def register_append_only_table(*, table: str) -> None:
    _append_only.add(table)


def register_email_builder(*, kind: str, builder: str) -> None:
    """``builder``: dotted path, imported when a message of this kind is sent."""
    _once(_email_builders, kind, builder)


def register_periodic_job(
    *,
    name: str,
    task: str,
    schedule: Any,
    per_tenant: bool = False,
    jitter_seconds: float = 5.0,
    kwargs: dict[str, Any] | None = None,
) -> None:
    job = PeriodicJob(
        name=name, task=task, schedule=schedule, per_tenant=per_tenant, jitter_seconds=jitter_seconds, kwargs=kwargs
    )
    _once(_periodic, name, job)


def register_demo_lines(*, name: str, lines: DemoLines) -> None:
    _once(_demo_lines, name, lines)


def register_audit_recorder(recorder: AuditRecorder) -> None:
    """One recorder (the audit app's); shared code calls ``audit()``."""
    if _audit_recorder and _audit_recorder[0] is not recorder:
        raise RegistryError("An audit recorder is already registered.")
    _audit_recorder[:] = [recorder]


def register_subject_source(*, name: str, source: Any) -> None:
    """``source`` has ``find(subject)`` and ``erase(subject, found)`` (see ``tenant_apps.privacy.sources``)."""
    _once(_subject_sources, name, source)


def register_event_handler(*, event: str, name: str, handler: EventHandler) -> None:
    if event not in EVENTS:
        raise RegistryError(f"Unknown event {event!r}; known: {sorted(EVENTS)}.")
    _once(_event_handlers.setdefault(event, {}), name, handler)


def register_teardown(*, name: str, teardown: Callable[[str], None]) -> None:
    """``teardown(schema_name)``: run by a hard delete before the schema is dropped; an exception stops the
    delete (so, e.g., a tenant whose key could not be destroyed is not half deleted)."""
    _once(_teardowns, name, teardown)


# --- collect ------------------------------------------------------------------------------


def seeders() -> list[Seeder]:
    return sorted(_seeders.values(), key=lambda s: (s.order, s.name))


def partitioned_tables() -> list[PartitionedTable]:
    return sorted(_partitioned.values(), key=lambda t: t.table)


def append_only_tables() -> frozenset[str]:
    return frozenset(_append_only)


def email_builders() -> dict[str, str]:
    return dict(sorted(_email_builders.items()))


def email_builder(kind: str) -> str:
    try:
        return _email_builders[kind]
    except KeyError:
        raise RegistryError(f"Unknown email kind {kind!r}; registered: {sorted(_email_builders)}.") from None


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_periodic.values(), key=lambda j: j.name)


def periodic_job(name: str) -> PeriodicJob:
    try:
        return _periodic[name]
    except KeyError:
        raise RegistryError(f"Unknown periodic job {name!r}.") from None


def teardowns() -> list[tuple[str, Callable[[str], None]]]:
    return sorted(_teardowns.items())


def subject_sources() -> list[tuple[str, Any]]:
    return sorted(_subject_sources.items())


def demo_lines() -> list[tuple[str, DemoLines]]:
    return sorted(_demo_lines.items())


def audit(*, action: str, target_type: str, target_id: str | int, changes: dict[str, Any] | None = None) -> None:
    """Record an event in the current tenant's audit log (call inside ``tenant_context``). Without a
    registered recorder (no audit app installed) nothing is recorded."""
    if _audit_recorder:
        _audit_recorder[0](action=action, target_type=target_type, target_id=target_id, changes=changes)


def emit_event(event: str, payload: dict[str, Any]) -> None:
    """Tell every handler of ``event`` (in name order). Call inside ``tenant_context`` and, where the
    event describes a write, inside that write's transaction: handlers defer their side effects to
    ``transaction.on_commit``, so a rolled-back write announces nothing."""
    if event not in EVENTS:
        raise RegistryError(f"Unknown event {event!r}; known: {sorted(EVENTS)}.")
    for _name, handler in sorted(_event_handlers.get(event, {}).items()):
        handler(event, payload)
