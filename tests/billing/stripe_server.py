"""Stripe for the tests: ``localstripe`` (a stateful server speaking Stripe's API; customers, plans,
subscriptions, invoices) behind a small HTTP server of the test suite that answers, in Stripe's wire
format, what localstripe lacks: Products, Prices, Checkout Sessions and Billing Portal sessions. Every
other request is forwarded to localstripe unchanged, so the real ``stripe`` client has one api_base.

A price created here is also created at localstripe as a legacy plan with the same id (as at Stripe,
where a price id works as a plan id), so subscriptions can be made on it.

localstripe has no free trials either (a subscription with ``trial_period_days`` stays ``incomplete``
without an invoice): the front server reports such a subscription as ``trialing`` until
``trial_end(subscription)`` invoices it and charges the card, as Stripe does when a trial ends.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class FakeStripe:
    def __init__(self, localstripe_url: str) -> None:
        self.localstripe = localstripe_url
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.trials: dict[str, int] = {}  # subscription id -> trial end (unix time)
        self.lock = threading.Lock()

    # --- localstripe ---
    def forward(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(self.localstripe + path, data=body or None, method=method)  # noqa: S310
        for name in ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version"):
            if headers.get(name):
                request.add_header(name, headers[name])
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - our own local server
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def localstripe_post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        from urllib.parse import urlencode

        status, body = self.forward(
            "POST",
            path,
            urlencode(form).encode(),
            {"Authorization": "Bearer sk_test_x", "Content-Type": "application/x-www-form-urlencoded"},
        )
        if status >= 300:
            raise RuntimeError(f"localstripe {path}: {status} {body[:300]!r}")
        data: dict[str, Any] = json.loads(body)
        return data

    # --- what localstripe lacks ---
    def handle(self, method: str, path: str, query: dict[str, Any], form: dict[str, Any]) -> tuple[int, Any] | None:
        m = re.fullmatch(r"/v1/products(?:/([^/]+))?", path)
        if m:
            return self._products(method, m.group(1), form)
        m = re.fullmatch(r"/v1/prices(?:/([^/]+))?", path)
        if m:
            return self._prices(method, m.group(1), query, form)
        m = re.fullmatch(r"/v1/checkout/sessions(?:/([^/]+))?", path)
        if m:
            return self._checkout(method, m.group(1), form)
        if path == "/v1/billing_portal/sessions" and method == "POST":
            session = {
                "id": _id("bps"),
                "object": "billing_portal.session",
                "customer": form.get("customer"),
                "return_url": form.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{secrets.token_hex(6)}",
                "livemode": False,
                "created": int(time.time()),
            }
            self.portal_sessions.append(session)
            return 200, session
        return None

    def _missing(self, what: str, ident: str) -> tuple[int, Any]:
        return 404, {"error": {"type": "invalid_request_error", "message": f"No such {what}: '{ident}'"}}

    def _products(self, method: str, ident: str | None, form: dict[str, Any]) -> tuple[int, Any]:
        if method == "POST" and ident is None:
            product = {
                "id": form.get("id") or _id("prod"),
                "object": "product",
                "active": True,
                "name": form["name"],
                "metadata": form.get("metadata", {}),
                "created": int(time.time()),
            }
            self.products[product["id"]] = product
            return 200, product
        if ident not in self.products:
            return self._missing("product", str(ident))
        if method == "POST":
            self.products[ident].update({k: (v == "true" if k == "active" else v) for k, v in form.items()})
        return 200, self.products[ident]

    def _prices(self, method: str, ident: str | None, query: dict[str, Any], form: dict[str, Any]) -> tuple[int, Any]:
        if method == "GET" and ident is None:
            keys = query.get("lookup_keys") or []
            keys = keys if isinstance(keys, list) else [keys]
            found = [
                p
                for p in self.prices.values()
                if (not keys or p["lookup_key"] in keys)
                and (query.get("active") is None or str(p["active"]).lower() == query["active"])
            ]
            return 200, {"object": "list", "data": found, "has_more": False, "url": "/v1/prices"}
        if method == "POST" and ident is None:
            if form.get("product") not in self.products:
                return self._missing("product", str(form.get("product")))
            if form.get("lookup_key") and form.get("transfer_lookup_key") == "true":
                for other in self.prices.values():
                    if other["lookup_key"] == form["lookup_key"]:
                        other["lookup_key"] = None
            price = {
                "id": _id("price"),
                "object": "price",
                "active": True,
                "currency": form["currency"],
                "unit_amount": int(form["unit_amount"]),
                "product": form["product"],
                "lookup_key": form.get("lookup_key"),
                "recurring": {"interval": form["recurring"]["interval"], "interval_count": 1},
                "type": "recurring",
                "metadata": form.get("metadata", {}),
                "created": int(time.time()),
            }
            self.prices[price["id"]] = price
            self.localstripe_post(
                "/v1/plans",
                {
                    "id": price["id"],
                    "amount": str(price["unit_amount"]),
                    "currency": price["currency"],
                    "interval": price["recurring"]["interval"],
                    "product[name]": self.products[price["product"]]["name"],
                },
            )
            return 200, price
        if ident not in self.prices:
            return self._missing("price", str(ident))
        if method == "POST" and "active" in form:
            self.prices[ident]["active"] = form["active"] == "true"
        return 200, self.prices[ident]

    def _checkout(self, method: str, ident: str | None, form: dict[str, Any]) -> tuple[int, Any]:
        if method == "POST" and ident is None:
            price = (form.get("line_items") or [{}])[0].get("price")
            if price not in self.prices:
                return self._missing("price", str(price))
            session = {
                "id": _id("cs_test"),
                "object": "checkout.session",
                "mode": form.get("mode"),
                "status": "open",
                "payment_status": "unpaid",
                "customer": form.get("customer"),
                "client_reference_id": form.get("client_reference_id"),
                "metadata": form.get("metadata", {}),
                "subscription": None,
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "line_items_request": form.get("line_items"),
                "subscription_data_request": form.get("subscription_data", {}),
                "url": f"https://checkout.stripe.test/c/pay/{secrets.token_hex(8)}",
                "created": int(time.time()),
            }
            self.sessions[session["id"]] = session
            return 200, session
        if ident not in self.sessions:
            return self._missing("checkout session", str(ident))
        return 200, self.sessions[ident]

    def checkout_complete(self, session_id: str, card: str = "4242424242424242") -> dict[str, Any]:
        """What Stripe does when the customer pays: a card on the customer, the subscription (trial included),
        the session complete. Returns the completed session (the ``checkout.session.completed`` object)."""
        session = self.sessions[session_id]
        token = self.localstripe_post(
            "/v1/tokens",
            {"card[number]": card, "card[exp_month]": "12", "card[exp_year]": "2040", "card[cvc]": "123"},
        )
        self.localstripe_post(f"/v1/customers/{session['customer']}/sources", {"source": token["id"]})
        form = {"customer": session["customer"], "items[0][plan]": session["line_items_request"][0]["price"]}
        data = session["subscription_data_request"]
        for key, value in (data.get("metadata") or {}).items():
            form[f"metadata[{key}]"] = value
        if data.get("trial_period_days"):
            form["trial_period_days"] = str(data["trial_period_days"])
        subscription = self.localstripe_post("/v1/subscriptions", form)
        if data.get("trial_period_days"):
            self.trials[subscription["id"]] = int(time.time()) + 86400 * int(data["trial_period_days"])
        session.update({"status": "complete", "payment_status": "paid", "subscription": subscription["id"]})
        return session

    def trial_end(self, subscription_id: str) -> dict[str, Any]:
        """The trial is over: invoice the subscription and charge the default card (localstripe then makes
        it ``active``). Returns the invoice."""
        self.trials.pop(subscription_id, None)
        subscription = json.loads(self.forward("GET", f"/v1/subscriptions/{subscription_id}", b"", AUTH)[1])
        invoice = self.localstripe_post(
            "/v1/invoices", {"customer": subscription["customer"], "subscription": subscription_id}
        )
        return self.localstripe_post(f"/v1/invoices/{invoice['id']}/pay", {})

    def patch(self, data: Any) -> Any:
        """What localstripe lacks in its answers: the trial state."""
        if isinstance(data, dict):
            if (
                data.get("object") == "subscription"
                and data.get("id") in self.trials
                and data["status"] == "incomplete"
            ):
                data.update({"status": "trialing", "trial_end": self.trials[data["id"]]})
            for value in data.values():
                self.patch(value)
        elif isinstance(data, list):
            for value in data:
                self.patch(value)
        return data


AUTH = {"Authorization": "Bearer sk_test_x"}


def make_handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.requests.append((method, url.path))
                query = unflatten(parse_qsl(url.query))
                form = unflatten(parse_qsl(body.decode())) if body else {}
                answer = fake.handle(method, url.path, query, form)
                if answer is None:
                    status, raw = fake.forward(method, self.path, body, dict(self.headers))
                    if url.path.startswith("/v1/subscriptions") and status == 200:
                        raw = json.dumps(fake.patch(json.loads(raw))).encode()
                else:
                    status, raw = answer[0], json.dumps(answer[1]).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Request-Id", _id("req"))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


class StripeServers:
    """localstripe on a free port (its own process) + the front server; ``stop()`` ends both."""

    def __init__(self) -> None:
        self.localstripe_port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(self.localstripe_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        localstripe = f"http://127.0.0.1:{self.localstripe_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.localstripe_port), timeout=0.5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        self.fake = FakeStripe(localstripe)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.fake))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
