"""The HTTP ceiling of the benchmarks: a minimal WSGI app (no Django, none of our code) that reads the request
body and answers a fixed JSON document of ``BARE_JSON_BYTES`` bytes. Served only by the benchmarks
(``benchmarks/_common.py`` ``server(app="benchmarks.bare_wsgi")``) under the same gunicorn settings as the
platform; no URL of the platform reaches it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

_SIZE = int(os.environ.get("BARE_JSON_BYTES", "0"))
_BODY = json.dumps({"ok": True, "pad": ""}).encode()
_BODY = json.dumps({"ok": True, "pad": "x" * max(0, _SIZE - len(_BODY))}).encode()
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_BODY)))]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", _HEADERS)
    return [_BODY]
