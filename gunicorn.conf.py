"""gunicorn settings shared by every way the web process starts (Procfile.dev, Dockerfile, benchmarks, the
test suite's live servers): gunicorn reads ``./gunicorn.conf.py`` by itself; command-line flags override it.

Request limits are explicit. A request beyond them is refused by gunicorn before Django sees it, with
gunicorn's own short plain-text/HTML answer (not the platform's JSON error shape): 414 for a request line
longer than ``limit_request_line``, 431/400 for too many or too large header fields. Put a reverse proxy
(nginx) in front to shape those answers if clients need JSON there.
"""

import os

limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))  # bytes; gunicorn's maximum
limit_request_fields = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELDS", "100"))
limit_request_field_size = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", "8190"))  # bytes per header


def on_starting(server: object) -> None:
    """Prometheus multi-process mode (PROMETHEUS_MULTIPROC_DIR): start from an empty directory, or counters
    of a previous run would be added to this one's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server: object, worker: object) -> None:
    """A worker that exits leaves its counters in place; its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
