"""Contacts, lists and CSV import through the API: de-duplication by e-mail in any case, custom
attributes, per-row error reports, nothing half-written, hostile input, other tenants' ids."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.distribution.models import Contact, ContactList
from tests.tenant_apps.distribution.conftest import contact_create, unique_email


def _count(tenant: Any) -> int:
    with tenant_context(tenant):
        return Contact.objects.count()


def _csv(text: str | bytes, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, content_type="text/csv")


def test_contact_crud_with_attributes_and_case_insensitive_email(admin_client: Client, tenant_a: Any) -> None:
    email = unique_email("Ada")
    created = contact_create(
        admin_client, email, first_name="Ada", last_name="Lovelace", attributes={"department": "R&D", "tier": 3}
    )
    assert created["attributes"] == {"department": "R&D", "tier": "3"}
    assert created["email"] == email

    again = admin_client.post("/api/v1/contacts/", {"email": email.upper()}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "contact_exists"
    assert again.json()["error"]["details"]["contact_id"] == created["id"]

    found = admin_client.get("/api/v1/contacts/", {"email": email.upper()})
    assert [c["id"] for c in found.json()["results"]] == [created["id"]]

    patched = admin_client.patch(
        f"/api/v1/contacts/{created['id']}/", {"attributes": {"department": "Ops"}}, content_type="application/json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["attributes"] == {"department": "Ops"}
    assert patched.json()["first_name"] == "Ada"
    assert admin_client.get(f"/api/v1/contacts/{created['id']}/").json()["attributes"] == {"department": "Ops"}

    with tenant_context(tenant_a):
        actions = set(
            AuditEvent.objects.filter(target_type="contact", target_id=str(created["id"])).values_list(
                "action", flat=True
            )
        )
    assert {"contact.create", "contact.update"} <= actions

    assert admin_client.delete(f"/api/v1/contacts/{created['id']}/").status_code == 204
    assert admin_client.get(f"/api/v1/contacts/{created['id']}/").status_code == 404


def test_personal_fields_go_through_one_module(admin_client: Client, tenant_a: Any) -> None:
    """The row stores e-mail, names and attributes in ``personal`` only, plus a keyed hash for look-ups."""
    from tenant_apps.distribution.personal import contact_personal, email_hash

    email = unique_email("Pii")
    created = contact_create(admin_client, email, first_name="P", attributes={"city": "Oslo"})
    with tenant_context(tenant_a):
        contact = Contact.objects.get(pk=created["id"])
        assert contact.email_hash == email_hash(email.upper()) != email_hash(unique_email())
        assert email not in contact.email_hash
        assert contact_personal(contact).attributes == {"city": "Oslo"}


def test_bad_contacts_are_refused_and_nothing_is_written(admin_client: Client, tenant_a: Any) -> None:
    before = _count(tenant_a)
    bad = [
        {"email": "not-an-email"},
        {"email": "a\u0000b@example.test"},
        {"email": unique_email(), "first_name": "x\u0000"},
        {"email": unique_email(), "attributes": {"9bad": "x"}},
        {"email": unique_email(), "attributes": {"email": "x"}},
        {"email": unique_email(), "attributes": {"note": "x" * 501}},
        {"email": unique_email(), "attributes": {"nested": {"a": 1}}},
        {"email": unique_email(), "attributes": "flat"},
        {"email": unique_email(), "lists": [999_999_999]},
        {"email": ["list"]},
        {},
    ]
    for body in bad:
        response = admin_client.post("/api/v1/contacts/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert "error" in response.json()
    assert _count(tenant_a) == before


def test_csv_import_dedupes_by_email_and_updates_existing(admin_client: Client, tenant_a: Any) -> None:
    existing = unique_email("old")
    contact_create(admin_client, existing, first_name="Old", attributes={"team": "blue"})
    contact_list = admin_client.post("/api/v1/contact-lists/", {"name": f"Import {existing}"}, "application/json")
    a, b = unique_email("a"), unique_email("b")
    text = (
        "email,first_name,last_name,department\n"
        f"{a},Ann,Able,Sales\n"
        f"{a.upper()},Ann,Again,Other\n"  # the same address in another case: a duplicate
        f"{b},Bob,,\n"
        f"{existing.upper()},,,Support\n"  # an existing contact: updated, its name kept
        "\n"
    )
    response = admin_client.post("/api/v1/contacts/import/", {"file": _csv(text), "list": contact_list.json()["id"]})
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["rows"], report["created"], report["updated"], report["duplicates"]) == (4, 2, 1, 1)
    assert report["added_to_list"] == 3
    assert report["refused"] == []
    assert report["written"]
    old = admin_client.get("/api/v1/contacts/", {"email": existing}).json()["results"][0]
    assert old["first_name"] == "Old"
    assert old["attributes"] == {"team": "blue", "department": "Support"}
    ann = admin_client.get("/api/v1/contacts/", {"email": a}).json()["results"][0]
    assert (ann["last_name"], ann["attributes"]) == ("Able", {"department": "Sales"})
    listed = admin_client.get("/api/v1/contacts/", {"list": contact_list.json()["id"]}).json()["results"]
    assert len(listed) == 3


def test_csv_with_broken_rows_is_refused_with_a_report_and_writes_nothing(admin_client: Client, tenant_a: Any) -> None:
    good = unique_email("good")
    text = (
        "email,first_name,plan\n"
        f"{good},Good,pro\n"
        "not-an-email,Bad,pro\n"
        f"{unique_email()},Too,many,cells\n"
        f"{unique_email()},Nul\u0000,pro\n"
    )
    before = _count(tenant_a)
    response = admin_client.post("/api/v1/contacts/import/", {"file": _csv(text)})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "invalid_rows"
    rows = {r["row"]: r for r in body["error"]["details"]["rows"]}
    assert set(rows) == {3, 4, 5}
    assert "email" in rows[3]["errors"]
    assert "row" in rows[4]["errors"]
    assert "first_name" in rows[5]["errors"]
    assert _count(tenant_a) == before

    # skip_invalid: the good row goes in, the bad ones are reported.
    response = admin_client.post("/api/v1/contacts/import/", {"file": _csv(text), "skip_invalid": "true"})
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    assert len(response.json()["refused"]) == 3
    assert _count(tenant_a) == before + 1


def test_hostile_csv_files_get_a_4xx(admin_client: Client, tenant_a: Any) -> None:
    before = _count(tenant_a)
    cases = {
        "no email column": "name\nx\n",
        "bad header": "email,bad header\nx@example.test,1\n",
        "duplicate columns": "email,Email\nx@example.test,y@example.test\n",
        "broken quote": f'email,first_name\n{unique_email()},"unterminated\n{unique_email()},x\n',
        "nul in header": "email,na\u0000me\nx@example.test,1\n",
        "empty": "",
    }
    for what, text in cases.items():
        response = admin_client.post("/api/v1/contacts/import/", {"file": _csv(text)})
        assert response.status_code == 400, (what, response.content)
        assert response.json()["error"]["code"] in {"invalid_csv", "invalid_rows"}, what
    latin1 = "email,first_name\nx@example.test,Jos\u00e9\n".encode("latin-1")
    assert admin_client.post("/api/v1/contacts/import/", {"file": _csv(latin1)}).status_code == 400
    assert admin_client.post("/api/v1/contacts/import/", {}).status_code == 400
    unknown_list = admin_client.post(
        "/api/v1/contacts/import/", {"file": _csv(f"email\n{unique_email()}\n"), "list": "999999999"}
    )
    assert unknown_list.status_code == 400
    assert _count(tenant_a) == before


def test_lists_membership(admin_client: Client, tenant_a: Any) -> None:
    ids = [contact_create(admin_client, unique_email())["id"] for _ in range(3)]
    created = admin_client.post("/api/v1/contact-lists/", {"name": f"L {ids[0]}"}, "application/json")
    assert created.status_code == 201
    list_id = created.json()["id"]
    assert admin_client.post("/api/v1/contact-lists/", {"name": f"L {ids[0]}"}, "application/json").status_code == 409
    added = admin_client.post(f"/api/v1/contact-lists/{list_id}/members/", {"contacts": ids}, "application/json")
    assert added.json() == {"changed": 3, "size": 3}
    again = admin_client.post(f"/api/v1/contact-lists/{list_id}/members/", {"contacts": ids}, "application/json")
    assert again.json() == {"changed": 0, "size": 3}
    unknown = admin_client.post(
        f"/api/v1/contact-lists/{list_id}/members/", {"contacts": [*ids, 999_999_999]}, "application/json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"]["contacts"] == ["999999999"]
    removed = admin_client.delete(
        f"/api/v1/contact-lists/{list_id}/members/", {"contacts": ids[:1]}, content_type="application/json"
    )
    assert removed.json() == {"changed": 1, "size": 2}
    renamed = admin_client.patch(f"/api/v1/contact-lists/{list_id}/", {"name": "Renamed"}, "application/json")
    assert renamed.json()["name"] == "Renamed"
    assert admin_client.delete(f"/api/v1/contact-lists/{list_id}/").status_code == 204
    with tenant_context(tenant_a):
        assert not ContactList.objects.filter(pk=list_id).exists()
        assert Contact.objects.filter(pk__in=ids).count() == 3  # the contacts stay


def test_other_tenants_contacts_lists_and_distributions_are_invisible(
    tenant_b: Any, make_tenant: Any, make_member: Any, api_client_for: Any
) -> None:
    """Data in tenant B, requests as an admin of tenant A (a fresh one: ids are per schema, so A has
    nothing that could share an id with B's rows)."""
    from tests.factories import SurveyFactory

    tenant_a = make_tenant()
    client = api_client_for(make_member(tenant_a, role="admin"), tenant_a)
    other = api_client_for(make_member(tenant_b, role="admin"), tenant_b)
    contact = contact_create(other, unique_email("b"))
    contact_list = other.post("/api/v1/contact-lists/", {"name": f"B {contact['id']}"}, "application/json").json()
    other.post(
        f"/api/v1/contact-lists/{contact_list['id']}/members/", {"contacts": [contact["id"]]}, "application/json"
    )
    survey_b = SurveyFactory(tenant=tenant_b, published=True)
    sent = other.post(
        f"/api/v1/surveys/{survey_b.pk}/distributions/",
        {"list": contact_list["id"], "subject": "Hi", "message": "Please"},
        "application/json",
    )
    assert sent.status_code == 202, sent.content
    distribution_id = sent.json()["id"]

    for method, path in [
        ("get", f"/api/v1/contacts/{contact['id']}/"),
        ("patch", f"/api/v1/contacts/{contact['id']}/"),
        ("delete", f"/api/v1/contacts/{contact['id']}/"),
        ("get", f"/api/v1/contact-lists/{contact_list['id']}/"),
        ("patch", f"/api/v1/contact-lists/{contact_list['id']}/"),
        ("delete", f"/api/v1/contact-lists/{contact_list['id']}/"),
        ("post", f"/api/v1/contact-lists/{contact_list['id']}/members/"),
        ("delete", f"/api/v1/contact-lists/{contact_list['id']}/members/"),
        ("get", f"/api/v1/distributions/{distribution_id}/"),
        ("get", f"/api/v1/distributions/{distribution_id}/invitations/"),
        ("get", f"/api/v1/surveys/{survey_b.pk}/distributions/"),
        ("post", f"/api/v1/surveys/{survey_b.pk}/distributions/"),
    ]:
        response = getattr(client, method)(
            path, {"contacts": [contact["id"]], "name": "x"}, content_type="application/json"
        )
        assert response.status_code == 404, (method, path, response.content)
    assert client.get("/api/v1/contacts/").json()["results"] == []
    assert client.get("/api/v1/contact-lists/").json()["results"] == []
    # Tenant B's ids named in tenant A's requests are unknown there: 400, nothing sent.
    survey_a = SurveyFactory(tenant=tenant_a, published=True)
    for target in ({"list": contact_list["id"]}, {"contacts": [contact["id"]]}):
        response = client.post(
            f"/api/v1/surveys/{survey_a.pk}/distributions/",
            {**target, "subject": "Hi", "message": "x"},
            "application/json",
        )
        assert response.status_code == 400, response.content
    assert other.get(f"/api/v1/contacts/{contact['id']}/").status_code == 200


def test_bad_distribution_requests_are_refused_and_write_nothing(admin_client: Client, tenant_a: Any) -> None:
    from tenant_apps.distribution.models import Distribution, Invitation
    from tests.factories import SurveyFactory

    published = SurveyFactory(tenant=tenant_a, published=True)
    draft = SurveyFactory(tenant=tenant_a)
    contact = contact_create(admin_client, unique_email())["id"]
    empty_list = admin_client.post("/api/v1/contact-lists/", {"name": f"Empty {contact}"}, "application/json")
    with tenant_context(tenant_a):
        before = (Distribution.objects.count(), Invitation.objects.count())
    ok = {"subject": "Hi", "message": "Please"}
    cases: list[tuple[int, int, dict[str, Any], str | None]] = [
        (draft.pk, 409, {**ok, "contacts": [contact]}, "survey_not_published"),
        (published.pk, 400, ok, None),  # neither a list nor contacts
        (published.pk, 400, {**ok, "contacts": [contact], "list": empty_list.json()["id"]}, None),
        (published.pk, 400, {**ok, "list": 999_999_999}, None),
        (published.pk, 400, {**ok, "list": empty_list.json()["id"]}, "no_contacts"),
        (published.pk, 400, {**ok, "contacts": [contact, 999_999_999]}, "unknown_contacts"),
        (published.pk, 400, {**ok, "contacts": ["x"]}, None),
        (published.pk, 400, {**ok, "contacts": []}, "no_contacts"),
        (published.pk, 400, {**ok, "contacts": [contact], "subject": "a\u0000b"}, None),
        (published.pk, 400, {**ok, "contacts": [contact], "message": "x" * 5001}, None),
        (published.pk, 400, {**ok, "contacts": [contact], "reminders_max": 6}, None),
        (published.pk, 400, {**ok, "contacts": [contact], "reminder_interval_hours": 0}, None),
        (published.pk, 400, {"contacts": [contact]}, None),
        (999_999_999, 404, {**ok, "contacts": [contact]}, None),
    ]
    for survey_id, expected, body, code in cases:
        response = admin_client.post(
            f"/api/v1/surveys/{survey_id}/distributions/", body, content_type="application/json"
        )
        assert response.status_code == expected, (body, response.content)
        if code:
            assert response.json()["error"]["code"] == code, response.content
    raw = admin_client.post(
        f"/api/v1/surveys/{published.pk}/distributions/",
        b'{"contacts": [1], "subject": "\\u0000", "message": "x"}',
        content_type="application/json",
    )
    assert raw.status_code == 400
    with tenant_context(tenant_a):
        assert (Distribution.objects.count(), Invitation.objects.count()) == before


def test_contact_list_endpoint_queries_do_not_grow_with_the_page(
    make_tenant: Any, make_member: Any, api_client_for: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenant_apps.distribution import services

    tenant = make_tenant()
    client = api_client_for(make_member(tenant, role="admin"), tenant)
    with tenant_context(tenant):
        lists = [services.contact_list_create(name=f"L{i}") for i in range(2)]
        for _ in range(30):
            services.contact_create(email=unique_email(), lists=lists, attributes={"a": "b"})
    counts = []
    for size in (5, 30):
        client.get("/api/v1/contacts/", {"page_size": size})  # warm the permission cache
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/contacts/", {"page_size": size})
        assert len(response.json()["results"]) == size
        assert len(response.json()["results"][0]["lists"]) == 2
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_contacts_personal_data_is_sealed_at_rest_and_bound_to_its_contact(admin_client: Client, tenant_a: Any) -> None:
    from django.db import connection

    from tenant_apps.distribution.personal import contact_personal
    from tenant_apps.pii.services import PiiUnreadable

    marker = "Zanzibar-7c1f"
    email = unique_email(marker)
    created = contact_create(admin_client, email, first_name=marker, attributes={"city": marker})
    other = contact_create(admin_client, unique_email("Other"), first_name="Other")
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT personal::text, email_hash FROM distribution_contact WHERE id = %s", [created["id"]])
        stored, hashed = cursor.fetchone()
        assert marker.lower() not in stored.lower()
        assert '"sealed": "pii1.' in stored
        assert marker not in hashed
        # The API still reads it, through the one module that opens it.
        assert contact_personal(Contact.objects.get(pk=created["id"])).first_name == marker
        # A ciphertext copied onto another contact does not open there.
        Contact.objects.filter(pk=other["id"]).update(personal=Contact.objects.get(pk=created["id"]).personal)
        with pytest.raises(PiiUnreadable):
            contact_personal(Contact.objects.get(pk=other["id"]))


def test_a_data_subject_request_finds_and_erases_the_contact(admin_client: Client, tenant_a: Any) -> None:
    email = unique_email("Subject")
    created = contact_create(admin_client, email, first_name="Sub", attributes={"team": "blue"})
    access = admin_client.post(
        "/api/v1/privacy/requests/", {"kind": "access", "email": email.upper()}, content_type="application/json"
    )
    assert access.status_code == 201, access.content
    [record] = access.json()["document"]["sources"]["distribution.contacts"]
    assert (record["contact_id"], record["email"], record["attributes"]) == (created["id"], email, {"team": "blue"})

    erase = admin_client.post(
        "/api/v1/privacy/requests/", {"kind": "erase", "email": email}, content_type="application/json"
    )
    assert erase.status_code == 201, erase.content
    assert erase.json()["receipt"]["counts"]["records.distribution.contacts"] >= 1
    assert admin_client.get(f"/api/v1/contacts/{created['id']}/").status_code == 404
