from django.apps import AppConfig


class PiiConfig(AppConfig):
    name = "tenant_apps.pii"
    label = "pii"

    def ready(self) -> None:
        from shared_apps.core import registry
        from tenant_apps.pii.services import tenant_keys_destroy, tenant_keys_seed

        # Early: the tenant's transit key and first data key exist before any seeder writes personal data.
        registry.register_seeder(name="pii.tenant_keys", seed=tenant_keys_seed, order=1)
        # Hard delete destroys the tenant's key-encryption key: every ciphertext it protected is unreadable.
        registry.register_teardown(name="pii.tenant_keys", teardown=tenant_keys_destroy)
