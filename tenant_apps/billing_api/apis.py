"""The organisation's billing: plan, state, usage against every limit, invoices; Checkout and Portal."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors as billing_selectors
from billing import services
from billing.plans import ORDER, PLANS, plan_get
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import tenant_url
from tenant_apps.apibase import TenantApi
from tenant_apps.billing_api.selectors import usage_for

PERMISSION = "billing.manage"


class UsageSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited")


class BillingDetailApi(TenantApi):
    required_permission = PERMISSION
    error_statuses = (502, 503)  # Stripe unreachable (invoices), billing disabled

    class OutputSerializer(serializers.Serializer):
        plan = serializers.DictField(help_text="The effective plan: key, name, limits, features.")
        status = serializers.CharField(help_text="none, trialing, active, past_due, restricted or canceled")
        banner = serializers.CharField(allow_null=True)
        subscribed_plan = serializers.CharField(allow_blank=True)
        manual_override = serializers.BooleanField()
        grace_deadline = serializers.DateTimeField(allow_null=True)
        current_period_end = serializers.DateTimeField(allow_null=True)
        usage = serializers.DictField(child=UsageSerializer())
        invoices = serializers.ListField(child=serializers.DictField())
        plans = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses={200: OutputSerializer}, operation_id="billing_detail")
    def get(self, request: Request) -> Response:
        organisation = Organisation.objects.get(pk=self.organisation.pk)  # fresh: the host cache may lag a change
        account = billing_selectors.account_for(organisation_id=organisation.pk)
        data: dict[str, Any] = {
            "plan": plan_get(organisation.plan).as_dict(),
            "status": billing_selectors.billing_state(account),
            "banner": billing_selectors.billing_banner(account),
            "subscribed_plan": account.subscribed_plan if account else "",
            "manual_override": bool(account and account.manual_override),
            "grace_deadline": account.grace_deadline if account else None,
            "current_period_end": account.current_period_end if account else None,
            "usage": usage_for(organisation=organisation),
            "invoices": billing_selectors.invoice_list(organisation=organisation) if account else [],
            "plans": [PLANS[key].as_dict() for key in ORDER],
        }
        return Response(self.OutputSerializer(data).data)


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.URLField()


class BillingCheckoutApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "billing"
    billing_exempt = True  # paying is how a restricted organisation gets out
    error_statuses = (409, 502, 503)

    class InputSerializer(serializers.Serializer):
        plan = serializers.ChoiceField(choices=[key for key in ORDER if PLANS[key].purchasable])

    @extend_schema(request=InputSerializer, responses={201: SessionSerializer}, operation_id="billing_checkout")
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        base = tenant_url(self.organisation)
        session = services.checkout_session_create(
            organisation=self.organisation,
            plan_key=serializer.validated_data["plan"],
            email=getattr(request.user, "email", ""),
            success_url=f"{base}app/billing?checkout=success",
            cancel_url=f"{base}app/billing?checkout=canceled",
        )
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class BillingPortalApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "billing"
    billing_exempt = True
    error_statuses = (409, 502, 503)

    @extend_schema(request=None, responses={201: SessionSerializer}, operation_id="billing_portal")
    def post(self, request: Request) -> Response:
        session = services.portal_session_create(
            organisation=self.organisation, return_url=f"{tenant_url(self.organisation)}app/billing"
        )
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)
