"""One guard for everything a client sends, before any of it reaches PostgreSQL or Redis.

PostgreSQL refuses NUL in text and jsonb, lone UTF-16 surrogates (psycopg cannot encode them, jsonb refuses
the escape) and non-finite numbers in json; Python's ``json`` accepts all three (``1e400`` parses as ``inf``)
and recurses once per nesting level (a 2,000-level array in 4 KB raises RecursionError). So every JSON body,
form field, query value and URL path is checked here, once:

- JSON bodies (``SafeJSONParser``, the default parser): at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes, valid
  UTF-8, nesting at most ``MAX_DEPTH`` levels (counted without recursion *before* ``json.loads`` runs), at
  most ``MAX_KEYS`` keys per object, no NUL or lone surrogate in any key or string, numbers finite and
  integers within PostgreSQL's bigint.
- Multipart bodies (``SafeMultiPartParser``, on the file upload; other form bodies get 415): the same
  text rules per field and file name.
- URL paths and query values (``InputGuardMiddleware``): no NUL (Django already re-escapes invalid UTF-8
  there), and all-digit values within bigint. ``finite_json_value`` reads a JSON value out of a query value.

Refusals are DRF ``ValidationError``s (or a 400/413 in the same shape from the middleware) whose details name
the field, as a dotted path: ``{"answers.q_name": ["Must not contain NUL characters."]}``.

Library choice: orjson refuses NaN/Infinity, ``1e400`` and lone surrogates natively and is much faster, but it
accepts ``\\u0000``, caps nesting at a fixed 1,024 levels and cannot name the offending field, so the walk
below would still be needed; it is also a compiled dependency the shared environment does not have. The
standard library's hooks (``parse_constant``, ``parse_float``, ``parse_int``, ``object_hook``) do the number
and key-count rules in the one parse; strings can only carry NUL or a lone surrogate through a ``\\u`` escape,
so the Python walk (which names the field) runs only when the text has such an escape or a hook refused
something. Cost: about 2x ``json.loads`` on a 0.5 MB definition, ~20 µs more on a draft body.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, parsers, status

MAX_DEPTH = 32
MAX_KEYS = 1_000
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

NUL_MESSAGE = "Must not contain NUL characters."
SURROGATE_MESSAGE = "Must be valid Unicode text (no lone surrogates)."
NON_FINITE_MESSAGE = "Numbers must be finite (no NaN, Infinity or values beyond ±1.8e308)."
INT_RANGE_MESSAGE = "Whole numbers must be between -9223372036854775808 and 9223372036854775807."


class InputRefused(exceptions.ValidationError):
    """A client value refused before use: 400 with ``details`` naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field or "body": [message]})


class MalformedBody(InputRefused):
    """Not JSON at all, or not UTF-8 (DRF's code for it is kept)."""

    default_code = "parse_error"


class PayloadTooLarge(InputRefused):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class UnsafeJson(ValueError):
    """A JSON text or value that must not be stored: ``field`` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str, *, malformed: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.malformed = field, message, malformed


# --- values ---------------------------------------------------------------------------------------


def text_problem(value: str) -> str | None:
    """Why PostgreSQL would refuse this text, or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


class _Refused:
    """Stands in for a number the parse hooks refused, so the walk can name where it was."""

    def __init__(self, message: str) -> None:
        self.message = message


_NON_FINITE = _Refused(NON_FINITE_MESSAGE)
_INT_RANGE = _Refused(INT_RANGE_MESSAGE)


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _NON_FINITE


def _parse_int(text: str) -> int | _Refused:
    if len(text) > 20:  # longer than any bigint: do not even convert (Python caps int() at 4,300 digits)
        return _INT_RANGE
    value = int(text)
    return value if BIGINT_MIN <= value <= BIGINT_MAX else _INT_RANGE


def _parse_constant(text: str) -> _Refused:  # NaN, Infinity, -Infinity
    return _NON_FINITE


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return text_problem(item)
    if isinstance(item, _Refused):
        return item.message
    if isinstance(item, float) and not math.isfinite(item):
        return NON_FINITE_MESSAGE
    if isinstance(item, int) and not isinstance(item, bool) and not BIGINT_MIN <= item <= BIGINT_MAX:
        return INT_RANGE_MESSAGE
    return None


def json_value_check(value: Any, field: str = "") -> None:
    """Raise ``UnsafeJson`` for the first value PostgreSQL or a JSON reader would refuse. Iterative."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        if not isinstance(item, Mapping | list | tuple):
            problem = _scalar_problem(item)
            if problem:
                raise UnsafeJson(path, problem)
            continue
        if depth >= MAX_DEPTH:
            raise UnsafeJson(path, f"Nested more than {MAX_DEPTH} levels deep.")
        if not isinstance(item, Mapping):
            stack.extend((child, _join(path, i), depth + 1) for i, child in enumerate(item))
            continue
        if len(item) > MAX_KEYS:
            raise UnsafeJson(path, f"At most {MAX_KEYS} keys per object.")
        for key, child in item.items():
            problem = text_problem(key) if isinstance(key, str) else "Keys must be text."
            if problem:
                raise UnsafeJson(path, f"Keys: {problem}")
            stack.append((child, _join(path, key), depth + 1))


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# The only ways a JSON text can carry NUL or a lone surrogate: its \u escapes (raw ones are not valid JSON).
_SUSPICIOUS_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _depth_check(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH without recursing: strings removed, then each pass of a regex
    removes the innermost empty pairs (one level), all in C."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_DEPTH):
        brackets, removed = _EMPTY_PAIR.subn("", brackets)
        if not brackets:
            return
        if not removed:  # unbalanced: not JSON, but json.loads would still recurse into it
            break
    field = _deep_field(text)
    if field is not None:
        raise UnsafeJson(field, f"Nested more than {MAX_DEPTH} levels deep.")


def _deep_field(text: str) -> str | None:
    """The top-level key under which nesting first goes too deep (for the error's ``details``), or None."""
    depth, top_is_object, last_top_string = 0, False, ""
    for match in _STRING_OR_BRACKET.finditer(text):
        part = match.group()
        if part in "[{":
            if depth == 0:
                top_is_object = part == "{"
            depth += 1
            if depth > MAX_DEPTH:
                return last_top_string if top_is_object else ""
        elif part in "]}":
            depth -= 1
        elif depth == 1:
            last_top_string = part[1:-1]
    return None


def json_loads_checked(text: str | bytes, field: str = "") -> Any:
    """``json.loads`` that refuses (``UnsafeJson``) what must not be stored, naming the field. The full walk
    runs (to name the field) only when the text could hold a refused value (a suspicious escape, a refused
    number, an object with too many keys), so ordinary bodies cost little more than ``json.loads``."""
    try:  # bytes must be UTF-8; text must encode as UTF-8 (no raw lone surrogate)
        text = text.decode("utf-8") if isinstance(text, bytes | bytearray) else text.encode("utf-8").decode("utf-8")
    except UnicodeError as exc:
        raise UnsafeJson(field, "Not valid UTF-8.", malformed=True) from exc
    _depth_check(text)
    refused: list[_Refused] = []
    crowded: list[str] = []

    def keys_counted(obj: dict[str, Any]) -> dict[str, Any]:
        if len(obj) > MAX_KEYS:
            crowded.append("")
        return obj

    def number(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        def hook(literal: str) -> Any:
            value = parse(literal)
            if isinstance(value, _Refused):
                refused.append(value)
            return value

        return hook

    try:
        data = json.loads(
            text,
            parse_float=number(_parse_float),
            parse_int=number(_parse_int),
            parse_constant=number(_parse_constant),
            object_hook=keys_counted,
        )
    except (ValueError, RecursionError) as exc:
        raise UnsafeJson(field, f"Not valid JSON: {exc}", malformed=True) from exc
    if refused or crowded or _SUSPICIOUS_ESCAPE.search(text):
        json_value_check(data, field)
    return data


def finite_json_value(raw: str, field: str) -> Any:
    """A query value read as JSON when it is JSON (``9``, ``true``, ``"dev"``), else as the text itself;
    refuses (``InputRefused``) non-finite numbers and anything ``json_value_check`` refuses."""
    try:
        return json_loads_checked(raw, field)
    except UnsafeJson as exc:
        if exc.malformed:
            problem = text_problem(raw)
            if problem:
                raise InputRefused(field, problem) from exc
            return raw
        raise InputRefused(field, exc.message) from exc


# --- DRF parsers -----------------------------------------------------------------------------------


class SafeJSONParser(parsers.JSONParser):
    """The default JSON parser, with the checks above (bounded size, depth, keys, text, numbers)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit else stream.read()
        if limit and len(raw) > limit:
            raise PayloadTooLarge("body", f"A JSON body may hold at most {limit // 1024} KiB.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        if codecs.lookup(encoding).name != "utf-8":
            try:
                raw = raw.decode(encoding).encode("utf-8", "surrogatepass")
            except (UnicodeError, LookupError) as exc:
                raise MalformedBody("body", f"Not valid {encoding}.") from exc
        try:
            return json_loads_checked(raw)
        except UnsafeJson as exc:
            raise (MalformedBody if exc.malformed else InputRefused)(exc.field, exc.message) from exc


def _fields_check(data: Any, files: Any = None) -> None:
    for key, values in data.lists():
        problem = text_problem(key)
        if problem:
            raise InputRefused("body", f"Field names: {problem}")
        for value in values:
            if isinstance(value, str) and (problem := text_problem(value)):
                raise InputRefused(key, problem)
    for key, upload in files.items() if files is not None else ():
        problem = text_problem(upload.name or "")
        if problem:
            raise InputRefused(key, f"File name: {problem}")


class SafeMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _fields_check(result.data, result.files)
        return result


# --- URL paths and query values --------------------------------------------------------------------


def _query_problem(value: str) -> str | None:
    problem = text_problem(value)
    if problem:
        return problem
    digits = value.lstrip("+-")
    if digits.isascii() and digits.isdigit() and not BIGINT_MIN <= int(value[:25]) <= BIGINT_MAX:
        return INT_RANGE_MESSAGE
    return None


def _declared_too_big(request: HttpRequest) -> bool:
    """A non-multipart body declared larger than Django will read (it would raise RequestDataTooBig inside the
    view, which DRF answers with a 500). Multipart file parts are streamed and have their own limits."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if not limit or request.content_type == "multipart/form-data":
        return False
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return False


class InputGuardMiddleware:
    """Refuses NUL in the URL path, NUL or out-of-range integers in query values, and bodies declared larger
    than DATA_UPLOAD_MAX_MEMORY_SIZE (413), before any view (or tenant lookup) sees them. Django already
    re-escapes invalid UTF-8 in the path and the query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from shared_apps.core.errors import error_response

        refused: dict[str, list[str]] = {}
        if "\x00" in request.path:
            refused["path"] = [NUL_MESSAGE]
        for key, values in request.GET.lists():
            name = key if not text_problem(key) else "query"
            for value in [key, *values]:
                problem = _query_problem(value) if value is not key else text_problem(key)
                if problem:
                    refused.setdefault(name, [problem])
        if refused:
            return error_response(400, "invalid", "The request is invalid.", refused)
        if _declared_too_big(request):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
            details = {"body": [f"A request body may hold at most {limit} KiB."]}
            return error_response(413, "payload_too_large", "The request body is too large.", details)
        return self.get_response(request)
