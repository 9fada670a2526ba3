"""Keys: per-tenant transit keys in a real OpenBao, envelope encryption, bound ciphertexts, crypto-shredding."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from shared_apps.core import kms
from shared_apps.tenants.services import tenant_hard_delete
from tenant_apps.pii.models import DataKey
from tenant_apps.pii.services import PiiUnreadable, SealContext, cache_clear, seal, unseal


def test_provisioning_creates_the_tenant_transit_key_and_a_wrapped_data_key(make_tenant, vault_server):
    assert kms.backend() == "transit"
    tenant = make_tenant()
    assert kms.key_version(name=f"tenant-{tenant.schema_name}") == 1
    with tenant_context(tenant):
        (row,) = DataKey.objects.all()
    assert row.active
    assert row.kek_version == 1
    assert row.wrapped.startswith("vault:v1:")


def test_sealed_value_is_bound_to_tenant_survey_submission_and_field(make_tenant):
    tenant, other = make_tenant(), make_tenant()
    context = SealContext(survey_id=7, submission="s-1", field="q_email")
    with tenant_context(tenant):
        token = seal("ann@example.com", context)
        assert token.startswith("pii1.")
        assert "ann@" not in token
        assert unseal(token, context) == "ann@example.com"
        for moved in (
            SealContext(survey_id=8, submission="s-1", field="q_email"),
            SealContext(survey_id=7, submission="s-2", field="q_email"),
            SealContext(survey_id=7, submission="s-1", field="q_name"),
        ):
            with pytest.raises(PiiUnreadable):
                unseal(token, moved)
        tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        with pytest.raises(PiiUnreadable):
            unseal(tampered, context)
    with tenant_context(other), pytest.raises(PiiUnreadable):  # another tenant: not its key
        unseal(token, context)


def test_hard_delete_destroys_the_key_so_ciphertext_is_shredded(make_tenant):
    tenant = make_tenant()
    context = SealContext(survey_id=1, submission="s", field="q")
    with tenant_context(tenant):
        token = seal({"secret": "marker-shred"}, context)
        wrapped = DataKey.objects.get(active=True).wrapped
    name = kms.key_name(tenant.schema_name)
    tenant_hard_delete(slug=tenant.slug)
    with pytest.raises(kms.KmsRefused):
        kms.datakey_unwrap(name=name, wrapped=wrapped)  # a copy of the wrapped key (a backup) opens nothing
    cache_clear()
    assert token.startswith("pii1.")


def test_rotate_then_rewrap_keeps_the_data_key(make_tenant):
    tenant = make_tenant()
    name = kms.key_name(tenant.schema_name)
    with tenant_context(tenant):
        row = DataKey.objects.get(active=True)
    first = kms.datakey_unwrap(name=name, wrapped=row.wrapped)
    assert kms.key_rotate(name=name) == 2
    rewrapped = kms.datakey_rewrap(name=name, wrapped=row.wrapped)
    assert rewrapped.startswith("vault:v2:")
    assert kms.datakey_unwrap(name=name, wrapped=rewrapped) == first


def test_local_backend_has_the_same_semantics(settings, tmp_path):
    settings.VAULT_ADDR, settings.KMS_LOCAL_DIR = "", str(tmp_path)
    kms.key_create(name="tenant-local")
    plaintext, wrapped = kms.datakey_generate(name="tenant-local")
    assert kms.datakey_unwrap(name="tenant-local", wrapped=wrapped) == plaintext
    assert kms.key_rotate(name="tenant-local") == 2
    assert kms.datakey_rewrap(name="tenant-local", wrapped=wrapped).startswith("local:v2:")
    assert kms.key_destroy(name="tenant-local")
    with pytest.raises(kms.KmsRefused):
        kms.datakey_unwrap(name="tenant-local", wrapped=wrapped)
