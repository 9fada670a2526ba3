"""Distribution endpoints (``distribution.manage``): contacts, contact lists, CSV import, sending
a survey to contacts and following each invitation."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from shared_apps.core.openapi import paginated
from shared_apps.core.pagination import CursorPagination
from shared_apps.core.parsers import SafeMultiPartParser
from tenant_apps.apibase import TenantApi
from tenant_apps.distribution import selectors, services
from tenant_apps.distribution.models import Contact, ContactList, Distribution, Invitation
from tenant_apps.distribution.personal import contact_personal
from tenant_apps.surveys.models import Survey

PERMISSION = "distribution.manage"
MAX_IDS = 10_000


class IdCursor(CursorPagination):
    ordering = ("id",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ContactOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    attributes = serializers.DictField(child=serializers.CharField(allow_blank=True))
    lists = serializers.ListField(child=serializers.IntegerField())
    unsubscribed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def _contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        **contact_personal(contact).as_dict(),
        "lists": sorted(c.pk for c in contact.lists.all()),
        "unsubscribed_at": contact.unsubscribed_at,
        "created_at": contact.created_at,
    }


class ContactInput(serializers.Serializer):
    # Checked in the service (one set of rules with the CSV import).
    email = serializers.CharField(max_length=254, trim_whitespace=False)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, help_text="Custom attributes: name -> text.")
    lists = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)


class ContactFilter(serializers.Serializer):
    list = serializers.IntegerField(required=False, min_value=1, help_text="Only contacts of this list.")
    email = serializers.CharField(required=False, max_length=254, help_text="The contact with this e-mail (any case).")


def _lists(ids: list[int]) -> list[ContactList]:
    found = list(ContactList.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        raise ValidationError({"lists": [f"Unknown list {i}." for i in missing]})
    return found


class ContactListApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "contact"
    error_statuses = (409,)  # the e-mail is taken

    @extend_schema(
        parameters=[ContactFilter, OpenApiParameter("cursor", str, required=False)],
        responses={200: paginated(ContactOutput(many=True), "PaginatedContactList")},
        operation_id="contact_list",
    )
    def get(self, request: Request) -> Response:
        filters = ContactFilter(data=request.query_params.dict())  # a plain dict: an empty ?email= is refused
        filters.is_valid(raise_exception=True)
        qs = selectors.contact_list_qs(
            list_id=filters.validated_data.get("list"), email=filters.validated_data.get("email")
        )
        paginator = IdCursor()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response([ContactOutput(_contact(c)).data for c in page])

    @extend_schema(request=ContactInput, responses={201: ContactOutput}, operation_id="contact_create")
    def post(self, request: Request) -> Response:
        data = ContactInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        contact = services.contact_create(
            email=values["email"],
            first_name=values.get("first_name", ""),
            last_name=values.get("last_name", ""),
            attributes=values.get("attributes"),
            lists=_lists(values.get("lists") or []),
        )
        contact = selectors.contact_list_qs().get(pk=contact.pk)
        return Response(ContactOutput(_contact(contact)).data, status=status.HTTP_201_CREATED)


class ContactUpdateInput(serializers.Serializer):
    email = serializers.CharField(max_length=254, required=False)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, help_text="Replaces the attributes whole.")


class ContactDetailApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "contact"
    error_statuses = (409,)  # the e-mail is taken

    def _get(self, pk: int) -> Contact:
        return get_object_or_404(selectors.contact_list_qs(), pk=pk)

    @extend_schema(responses={200: ContactOutput}, operation_id="contact_get")
    def get(self, request: Request, pk: int) -> Response:
        return Response(ContactOutput(_contact(self._get(pk))).data)

    @extend_schema(request=ContactUpdateInput, responses={200: ContactOutput}, operation_id="contact_update")
    def patch(self, request: Request, pk: int) -> Response:
        contact = self._get(pk)
        data = ContactUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_update(contact=contact, changes=dict(data.validated_data))
        return Response(ContactOutput(_contact(self._get(pk))).data)

    @extend_schema(responses={204: None}, operation_id="contact_delete")
    def delete(self, request: Request, pk: int) -> Response:
        services.contact_delete(contact=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactImportOutput(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Rows repeating an earlier row's e-mail (any case): skipped.")
    added_to_list = serializers.IntegerField()
    written = serializers.BooleanField()
    refused = serializers.ListField(
        child=serializers.DictField(), help_text="Rows refused, with reasons: [{row, email, errors: {field: [..]}}]."
    )


class ContactImportApi(TenantApi):
    """CSV (UTF-8): an ``email`` column, optional ``first_name``/``last_name``, every other column a
    custom attribute. A bad row refuses the file (400, every bad row with its reasons, nothing
    written) unless ``skip_invalid`` is true (the good rows are imported, the bad ones reported)."""

    required_permission = PERMISSION
    audit_target_type = "contact"
    parser_classes = [SafeMultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "list": {"type": "integer", "description": "Also add every imported contact to this list."},
                    "skip_invalid": {"type": "boolean"},
                },
                "required": ["file"],
            }
        },
        responses={200: ContactImportOutput},
        operation_id="contact_import",
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Send the CSV as the multipart field 'file'."]})
        if upload.size is not None and upload.size > services.IMPORT_MAX_BYTES:
            raise services.DistributionError("The file is over 5 MB.", code="file_too_large", status=413)
        form: Any = request.data
        raw_list = form.get("list") or None
        contact_list = None
        if raw_list is not None:
            if not str(raw_list).isdigit() or len(str(raw_list)) > 18:
                raise ValidationError({"list": ["A list id."]})
            contact_list = ContactList.objects.filter(pk=int(raw_list)).first()
            if contact_list is None:
                raise ValidationError({"list": [f"Unknown list {raw_list}."]})
        skip = str(form.get("skip_invalid", "false")).lower() in ("1", "true", "yes")
        report = services.contacts_import(
            data=upload.read(services.IMPORT_MAX_BYTES + 1), contact_list=contact_list, skip_invalid=skip
        )
        if not report.written:
            # One error shape: every refused row, with its reasons, under details.rows.
            raise services.DistributionError(
                f"{len(report.errors)} row(s) are not valid; nothing was imported.",
                code="invalid_rows",
                details={"rows": report.errors[:1000]},
            )
        body = ContactImportOutput(
            {
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "duplicates": report.duplicates,
                "added_to_list": report.added_to_list,
                "written": report.written,
                "refused": report.errors,
            }
        ).data
        return Response(body)


# --- lists ----------------------------------------------------------------------------------------


class ContactListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    size = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class ContactListInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


def _list_body(pk: int) -> dict[str, Any]:
    contact_list = selectors.contact_lists_qs().get(pk=pk)
    return ContactListOutput(contact_list).data


class ContactListsApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "contact_list"
    error_statuses = (409,)  # the name is taken

    @extend_schema(
        responses={200: paginated(ContactListOutput(many=True), "PaginatedContactListList")},
        operation_id="contact_list_list",
    )
    def get(self, request: Request) -> Response:
        paginator = IdCursor()
        page = paginator.paginate_queryset(selectors.contact_lists_qs(), request, view=self) or []
        return paginator.get_paginated_response(ContactListOutput(page, many=True).data)

    @extend_schema(request=ContactListInput, responses={201: ContactListOutput}, operation_id="contact_list_create")
    def post(self, request: Request) -> Response:
        data = ContactListInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.contact_list_create(
            name=data.validated_data["name"], description=data.validated_data.get("description", "")
        )
        return Response(_list_body(created.pk), status=status.HTTP_201_CREATED)


class ContactListUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ContactListDetailApi(TenantApi):
    required_permission = PERMISSION
    audit_target_type = "contact_list"
    error_statuses = (409,)  # the name is taken

    @extend_schema(responses={200: ContactListOutput}, operation_id="contact_list_get")
    def get(self, request: Request, pk: int) -> Response:
        get_object_or_404(ContactList, pk=pk)
        return Response(_list_body(pk))

    @extend_schema(
        request=ContactListUpdateInput, responses={200: ContactListOutput}, operation_id="contact_list_update"
    )
    def patch(self, request: Request, pk: int) -> Response:
        contact_list = get_object_or_404(ContactList, pk=pk)
        data = ContactListUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_list_update(
            contact_list=contact_list,
            name=data.validated_data.get("name"),
            description=data.validated_data.get("description"),
        )
        return Response(_list_body(pk))

    @extend_schema(responses={204: None}, operation_id="contact_list_delete")
    def delete(self, request: Request, pk: int) -> Response:
        services.contact_list_delete(contact_list=get_object_or_404(ContactList, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactListMembersInput(serializers.Serializer):
    contacts = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_IDS)


class ContactListMembersOutput(serializers.Serializer):
    changed = serializers.IntegerField(help_text="Contacts added (POST) or removed (DELETE).")
    size = serializers.IntegerField()


class ContactListMembersApi(TenantApi):
    """Add contacts to a list (POST) or take them out (DELETE); the contacts themselves stay."""

    required_permission = PERMISSION
    audit_target_type = "contact_list"

    def _change(self, request: Request, pk: int, add: bool) -> Response:
        contact_list = get_object_or_404(ContactList, pk=pk)
        data = ContactListMembersInput(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["contacts"]
        if add:
            changed = services.contact_list_add(contact_list=contact_list, contact_ids=ids)
        else:
            changed = services.contact_list_remove(contact_list=contact_list, contact_ids=ids)
        return Response({"changed": changed, "size": _list_body(pk)["size"]})

    @extend_schema(
        request=ContactListMembersInput, responses={200: ContactListMembersOutput}, operation_id="contact_list_add"
    )
    def post(self, request: Request, pk: int) -> Response:
        return self._change(request, pk, add=True)

    @extend_schema(
        request=ContactListMembersInput, responses={200: ContactListMembersOutput}, operation_id="contact_list_remove"
    )
    def delete(self, request: Request, pk: int) -> Response:
        return self._change(request, pk, add=False)


# --- distributions --------------------------------------------------------------------------------


class DistributionInput(serializers.Serializer):
    list = serializers.IntegerField(required=False, min_value=1, help_text="Send to this contact list...")
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_IDS, help_text="...or to these."
    )
    subject = serializers.CharField(max_length=200)
    message = serializers.CharField(
        max_length=5000, help_text="Text above the link; {{first_name}}, {{last_name}}, {{email}}, {{<attribute>}}."
    )
    reminders_max = serializers.IntegerField(min_value=0, max_value=5, default=0)
    reminder_interval_hours = serializers.IntegerField(min_value=1, max_value=24 * 30, default=72)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("list" in attrs) == ("contacts" in attrs):
            raise ValidationError({"list": ["Give either a list or contacts."]})
        return attrs


class DistributionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    survey_id = serializers.IntegerField()
    list_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=Distribution.Status.choices)
    subject = serializers.CharField()
    reminders_max = serializers.IntegerField()
    reminder_interval_hours = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Invitations per status.")
    created_at = serializers.DateTimeField()


class DistributionCreatedOutput(DistributionOutput):
    already_invited = serializers.IntegerField(help_text="Contacts left out: invited to this survey before.")
    unsubscribed = serializers.IntegerField(help_text="Contacts left out: unsubscribed.")


def _distribution(distribution: Distribution, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": distribution.pk,
        "survey_id": distribution.survey_id,
        "list_id": distribution.contact_list_id,
        "status": distribution.status,
        "subject": distribution.subject,
        "reminders_max": distribution.reminders_max,
        "reminder_interval_hours": distribution.reminder_interval_hours,
        "counts": counts,
        "created_at": distribution.created_at,
    }


class DistributionCreateApi(TenantApi):
    """E-mail each contact a personal, single-use link to the survey (202: sent in the background,
    in batches at the organisation's send rate)."""

    required_permission = PERMISSION
    audit_target_type = "survey"
    error_statuses = (409,)  # the survey is not published

    @extend_schema(
        responses={200: paginated(DistributionOutput(many=True), "PaginatedDistributionList")},
        operation_id="distribution_list",
    )
    def get(self, request: Request, pk: int) -> Response:
        survey = get_object_or_404(Survey.objects.only("id"), pk=pk)
        paginator = IdCursor()
        paginator.ordering = ("-id",)
        page = paginator.paginate_queryset(selectors.distributions_qs(survey_id=survey.pk), request, view=self) or []
        counts = selectors.distribution_counts([d.pk for d in page])
        return paginator.get_paginated_response([_distribution(d, counts[d.pk]) for d in page])

    @extend_schema(
        request=DistributionInput, responses={202: DistributionCreatedOutput}, operation_id="distribution_create"
    )
    def post(self, request: Request, pk: int) -> Response:
        survey = get_object_or_404(Survey.objects.only("id", "status", "current_version_id", "public_link"), pk=pk)
        data = DistributionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        contact_list = None
        if "list" in values:
            contact_list = ContactList.objects.filter(pk=values["list"]).first()
            if contact_list is None:
                raise ValidationError({"list": [f"Unknown list {values['list']}."]})
        created = services.distribution_create(
            survey=survey,
            contact_list=contact_list,
            contact_ids=values.get("contacts"),
            subject=values["subject"],
            message=values["message"],
            reminders_max=values["reminders_max"],
            reminder_interval_hours=values["reminder_interval_hours"],
            actor_id=getattr(request.user, "id", None),
        )
        distribution = created.distribution
        body = {
            **_distribution(distribution, selectors.distribution_counts([distribution.pk])[distribution.pk]),
            "already_invited": created.already_invited,
            "unsubscribed": created.unsubscribed,
        }
        return Response(DistributionCreatedOutput(body).data, status=status.HTTP_202_ACCEPTED)


class DistributionDetailApi(TenantApi):
    required_permission = PERMISSION

    @extend_schema(responses={200: DistributionOutput}, operation_id="distribution_get")
    def get(self, request: Request, pk: int) -> Response:
        distribution = get_object_or_404(Distribution, pk=pk)
        counts = selectors.distribution_counts([pk])[pk]
        return Response(DistributionOutput(_distribution(distribution, counts)).data)


class ContactInvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    contact_id = serializers.IntegerField()
    email = serializers.EmailField()
    status = serializers.ChoiceField(choices=Invitation.Status.choices)
    sent_at = serializers.DateTimeField(allow_null=True)
    reminders_sent = serializers.IntegerField()
    next_reminder_at = serializers.DateTimeField(allow_null=True)
    responded_at = serializers.DateTimeField(allow_null=True)
    submission_id = serializers.UUIDField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ContactInvitationFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Invitation.Status.choices, required=False)


class DistributionInvitationsApi(TenantApi):
    """Each contact's status: queued, sent, failed (with the mail server's reason), responded, unsubscribed."""

    required_permission = PERMISSION

    @extend_schema(
        parameters=[ContactInvitationFilter, OpenApiParameter("cursor", str, required=False)],
        responses={200: paginated(ContactInvitationOutput(many=True), "PaginatedInvitationList")},
        operation_id="distribution_invitations",
    )
    def get(self, request: Request, pk: int) -> Response:
        distribution = get_object_or_404(Distribution, pk=pk)
        filters = ContactInvitationFilter(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        qs = Invitation.objects.filter(distribution=distribution).select_related("contact")
        if "status" in filters.validated_data:
            qs = qs.filter(status=filters.validated_data["status"])
        paginator = IdCursor()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(
            [
                {
                    "id": i.pk,
                    "contact_id": i.contact_id,
                    "email": contact_personal(i.contact).email,
                    "status": i.status,
                    "sent_at": i.sent_at,
                    "reminders_sent": i.reminders_sent,
                    "next_reminder_at": i.next_reminder_at,
                    "responded_at": i.responded_at,
                    "submission_id": i.submission_uid,
                    "error": i.error,
                }
                for i in page
            ]
        )
