"""``manage.py vault_dev``: make sure a development OpenBao runs (``make run`` calls it after the virtualenv
exists). With VAULT_ADDR set, only checks it answers. Otherwise starts ``bao server -dev`` in the background
(port 8200 when free) and writes ``var/vault-dev.env`` (VAULT_ADDR, VAULT_TOKEN), which the local settings
read. Dev mode keeps keys in memory: after it stops, data sealed before is unreadable (development only)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shared_apps.core.devvault import bao_ready, bao_start, free_port


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Start a development OpenBao (Vault API) unless one runs; write var/vault-dev.env."

    def handle(self, *args: Any, **options: Any) -> None:
        env_file = Path(settings.BASE_DIR) / "var" / "vault-dev.env"
        if settings.VAULT_ADDR and bao_ready(settings.VAULT_ADDR):
            self.stdout.write(f"Vault answers at {settings.VAULT_ADDR}.")
            return
        if settings.VAULT_ADDR and not env_file.exists():
            raise CommandError(f"VAULT_ADDR={settings.VAULT_ADDR} does not answer.")
        env_file.parent.mkdir(parents=True, exist_ok=True)
        port = 8200 if _port_free(8200) else free_port()
        process, addr, token = bao_start(port=port, log_path=env_file.with_suffix(".log"), detach=True)
        env_file.write_text(f"VAULT_ADDR={addr}\nVAULT_TOKEN={token}\n")
        env_file.chmod(0o600)
        env_file.with_suffix(".pid").write_text(str(process.pid))
        self.stdout.write(f"Started a development OpenBao at {addr} (pid {process.pid}); see {env_file}.")
