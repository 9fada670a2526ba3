"""billing/ is a shared app: like shared_apps, it never imports a tenant app."""

from __future__ import annotations

from pathlib import Path

from tests.shared_apps.core.test_registry import _tenant_app_imports

ROOT = Path(__file__).resolve().parents[2]


def test_billing_never_imports_tenant_apps():
    files = sorted((ROOT / "billing").rglob("*.py"))
    assert len(files) > 3
    assert [hit for path in files for hit in _tenant_app_imports(path)] == []
