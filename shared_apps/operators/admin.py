"""The Django admin for platform operators, served on the platform host only (``config/urls_public.py``).

Platform records only: organisations (with their domains, plan and status), domains, user accounts, and the
platform log. No tenant data: no tenant model is registered here, and none could be read from the public
schema anyway. Writes go through the tenant services (``tenant_update``, ``tenant_suspend``, ``tenant_resume``),
which validate and record the change in the organisation's own audit log; every write, sign-in, failed
sign-in and sign-out is also appended to the platform log (``OperatorEvent``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse

from shared_apps.accounts.models import User
from shared_apps.operators.models import OperatorEvent
from shared_apps.operators.services import on_platform_host, operator_actor, operator_event_record
from shared_apps.tenants.models import Domain, Organisation
from shared_apps.tenants.services.base import TenantError
from shared_apps.tenants.services.lifecycle import tenant_resume, tenant_suspend, tenant_update


class OperatorAuthenticationForm(AdminAuthenticationForm):
    """A correct password of an account that is not a platform operator is a failed sign-in too."""

    def confirm_login_allowed(self, user: Any) -> None:
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            operator_event_record(
                request=self.request,  # type: ignore[arg-type]
                action="admin.login_failed",
                user=None,
                target_type="accounts.user",
                target_id=user.pk,
                changes={"reason": "not_platform_staff" if user.is_active else "inactive"},
            )
            raise


class OperatorAdminSite(admin.AdminSite):
    login_form = OperatorAuthenticationForm
    site_header = "Survey platform: operators"
    site_title = "Platform admin"
    index_title = "Platform records"

    def has_permission(self, request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        return (
            on_platform_host(request)
            and user is not None
            and user.is_active
            and bool(getattr(user, "is_platform_staff", False))
        )

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        wrapped = super().admin_view(view, cacheable)

        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            with operator_actor(request):
                return wrapped(request, *args, **kwargs)

        return inner


operator_site = OperatorAdminSite(name="operators")


def _organisation_of(obj: Model) -> Organisation | None:
    if isinstance(obj, Organisation):
        return obj
    if isinstance(obj, Domain):
        return obj.tenant
    return None


class LoggedModelAdmin(admin.ModelAdmin):
    """Every add, change and delete of the admin goes to the platform log (Django's own LogEntry is not used)."""

    def _log(self, request: HttpRequest, action: str, obj: Model, changes: dict[str, Any]) -> None:
        operator_event_record(
            request=request,
            action=action,
            target_type=obj._meta.label_lower,
            target_id=obj.pk,
            organisation=_organisation_of(obj),
            changes=changes,
        )

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> None:  # type: ignore[override]
        self._log(request, "admin.add", obj, {"message": message})

    def save_form(self, request: HttpRequest, form: ModelForm, change: bool) -> Any:
        # The fields changed and their new values, for the log entry written after the save.
        request._operator_changed = {  # type: ignore[attr-defined]
            name: str(form.cleaned_data.get(name)) for name in form.changed_data
        }
        return super().save_form(request, form, change)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> None:  # type: ignore[override]
        self._log(
            request, "admin.change", obj, {"after": getattr(request, "_operator_changed", {}), "message": message}
        )

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:  # type: ignore[override]
        for obj in queryset:
            self._log(request, "admin.delete", obj, {"repr": str(obj)[:200]})

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DomainInline(admin.TabularInline):
    model = Domain
    fields = ("domain", "is_primary")
    readonly_fields = ("domain", "is_primary")
    extra = 0
    max_num = 0
    can_delete = False


ORGANISATION_EDITABLE = ("name", "plan", "rate_limit_user", "rate_limit_anon")


@admin.register(Organisation, site=operator_site)
class OrganisationAdmin(LoggedModelAdmin):
    list_display = ("slug", "name", "kind", "status", "plan", "created_at", "suspended_at")
    list_filter = ("status", "plan", "kind")
    search_fields = ("slug", "name")
    ordering = ("slug",)
    inlines = (DomainInline,)
    fields = (
        "slug",
        "name",
        "kind",
        "status",
        "status_reason",
        "plan",
        "rate_limit_user",
        "rate_limit_anon",
        "retention_months",
        "schema_name",
        "public_id",
        "created_at",
        "provisioned_at",
        "suspended_at",
        "deleted_at",
        "purge_after",
    )
    actions = ("suspend", "resume")

    def get_readonly_fields(self, request: HttpRequest, obj: Organisation | None = None) -> tuple[str, ...]:
        # Only a customer organisation's name, plan and rate limits change here (through tenant_update).
        if obj is not None and obj.is_customer:
            return tuple(f for f in self.fields if f not in ORGANISATION_EDITABLE)
        return tuple(self.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # organisations are provisioned by signup or `manage.py create_tenant`

    def save_model(self, request: HttpRequest, obj: Organisation, form: ModelForm, change: bool) -> None:
        changed = {
            field: str(form.cleaned_data[field] or "") for field in form.changed_data if field in ORGANISATION_EDITABLE
        }
        if changed:
            # Validates again and records "tenant.updated" in the organisation's audit log.
            tenant_update(slug=obj.slug, **changed)

    @admin.action(description="Suspend the selected organisations")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Organisation]) -> None:
        self._lifecycle(request, queryset, "suspend")

    @admin.action(description="Resume the selected organisations")
    def resume(self, request: HttpRequest, queryset: QuerySet[Organisation]) -> None:
        self._lifecycle(request, queryset, "resume")

    def _lifecycle(self, request: HttpRequest, queryset: QuerySet[Organisation], verb: str) -> None:
        done = []
        for organisation in queryset.order_by("slug"):
            try:
                if verb == "suspend":
                    reason = f"Suspended by a platform operator ({request.user.pk}) in the admin."
                    updated = tenant_suspend(slug=organisation.slug, reason=reason)
                else:
                    updated = tenant_resume(slug=organisation.slug)
            except TenantError as exc:
                operator_event_record(
                    request=request,
                    action=f"organisation.{verb}_refused",
                    target_type="tenants.organisation",
                    target_id=organisation.pk,
                    organisation=organisation,
                    changes={"error": str(exc)},
                )
                self.message_user(request, str(exc), messages.ERROR)
                continue
            # The service recorded tenant.suspended / tenant.resumed in the organisation's audit log.
            operator_event_record(
                request=request,
                action=f"organisation.{verb}",
                target_type="tenants.organisation",
                target_id=organisation.pk,
                organisation=organisation,
                changes={"status": updated.status},
            )
            done.append(organisation.slug)
        if done:
            self.message_user(request, f"{verb.capitalize()}ed: {', '.join(done)}.".replace("Resumeed", "Resumed"))


@admin.register(Domain, site=operator_site)
class DomainAdmin(LoggedModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__slug")
    list_select_related = ("tenant",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # domains follow the organisation's slug (provisioning)


@admin.register(User, site=operator_site)
class UserAdmin(LoggedModelAdmin):
    list_display = ("email", "full_name", "is_active", "is_platform_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_platform_staff")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    fields = ("email", "full_name", "is_active", "is_platform_staff", "date_joined", "last_login")

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        fixed = ("email", "date_joined", "last_login")
        if obj is not None and obj.pk == getattr(request.user, "pk", None):
            return (*fixed, "is_active", "is_platform_staff")  # nobody locks themselves out
        return fixed

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts come from signup and invitations; operators from `manage.py createsuperuser`

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        obj.save(update_fields=[f for f in form.changed_data if f in ("full_name", "is_active", "is_platform_staff")])


@admin.register(OperatorEvent, site=operator_site)
class OperatorEventAdmin(admin.ModelAdmin):
    """The platform log, read-only."""

    list_display = ("occurred_at", "action", "actor_email", "organisation", "target_type", "target_id", "ip")
    list_filter = ("action",)
    search_fields = ("actor_email", "organisation", "target_id", "request_id")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
