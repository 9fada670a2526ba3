"""Behaviour that must hold across server processes: two real gunicorn processes on the test database."""

from __future__ import annotations

import requests
from django_tenants.utils import tenant_context

from shared_apps.tenants.models import Organisation
from tenant_apps.members.models import Membership
from tests.conftest import host_of, login


def test_anonymous_rate_limit_is_shared_across_two_processes(live_servers, make_tenant):
    tenant = make_tenant()
    Organisation.objects.filter(pk=tenant.pk).update(rate_limit_anon="5/min")
    headers = {"Host": host_of(tenant)}
    statuses = [
        requests.get(f"{live_servers[i % 2]}/api/v1/tenant/", headers=headers, timeout=5).status_code for i in range(5)
    ]
    assert statuses == [200] * 5
    limited = requests.get(f"{live_servers[1]}/api/v1/tenant/", headers=headers, timeout=5)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.json()["error"]["code"] == "throttled"
    assert requests.get(f"{live_servers[0]}/api/v1/tenant/", headers=headers, timeout=5).status_code == 429
    # Another tenant's budget is its own.
    other = make_tenant()
    assert (
        requests.get(f"{live_servers[0]}/api/v1/tenant/", headers={"Host": host_of(other)}, timeout=5).status_code
        == 200
    )


def test_user_rate_limit_is_per_user_and_shared(live_servers, make_tenant, make_member):
    tenant = make_tenant()
    Organisation.objects.filter(pk=tenant.pk).update(rate_limit_user="4/min")
    user = make_member(tenant, "analyst")
    headers = {"Host": host_of(tenant), "Authorization": f"Bearer {login(tenant, user.email)['access']}"}
    statuses = [
        requests.get(f"{live_servers[i % 2]}/api/v1/me/", headers=headers, timeout=5).status_code for i in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]


def test_permission_change_reaches_every_process_on_the_next_request(live_servers, make_tenant, make_member):
    tenant = make_tenant()
    admin, analyst = make_member(tenant, "admin"), make_member(tenant, "analyst")
    analyst_headers = {"Host": host_of(tenant), "Authorization": f"Bearer {login(tenant, analyst.email)['access']}"}
    admin_headers = {"Host": host_of(tenant), "Authorization": f"Bearer {login(tenant, admin.email)['access']}"}
    for url in live_servers:  # warm both processes' caches with 'analyst'
        assert requests.get(f"{url}/api/v1/members/", headers=analyst_headers, timeout=5).status_code == 403
    with tenant_context(tenant):
        membership_id = Membership.objects.get(user=analyst).pk
    promoted = requests.patch(
        f"{live_servers[0]}/api/v1/members/{membership_id}/", json={"role": "admin"}, headers=admin_headers, timeout=5
    )
    assert promoted.status_code == 200
    assert requests.get(f"{live_servers[1]}/api/v1/members/", headers=analyst_headers, timeout=5).status_code == 200

    demoted = requests.patch(
        f"{live_servers[1]}/api/v1/members/{membership_id}/",
        json={"is_active": False},
        headers=admin_headers,
        timeout=5,
    )
    assert demoted.status_code == 200
    assert requests.get(f"{live_servers[0]}/api/v1/me/", headers=analyst_headers, timeout=5).status_code == 401
