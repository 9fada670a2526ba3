"""The tenant's data keys (tenant schema): AES-256 keys, stored only wrapped by the tenant's transit key."""

from __future__ import annotations

from django.db import models


class DataKey(models.Model):
    """One data key. ``active``: the one new ciphertexts use (at most one). ``wrapped``: the key as Vault's
    transit (or the local dev backend) wrapped it, ``kek_version`` the key-encryption key version that did."""

    id = models.BigAutoField(primary_key=True)
    # Named in every ciphertext; random, so a re-created organisation (same schema name) never matches an old
    # key some process still caches.
    kid = models.CharField(max_length=32, unique=True)
    wrapped = models.TextField()
    kek_version = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True)
    retired_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=models.Q(active=True), name="pii_one_active_datakey")
        ]

    def __str__(self) -> str:
        return f"datakey {self.kid} (KEK v{self.kek_version})"
