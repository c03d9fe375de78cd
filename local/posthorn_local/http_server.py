"""The local API: an HTTP server (stdlib) that does what API Gateway and Lambda do when deployed.

Every route of template.yaml goes to its function's handler with the REST API proxy event (`apigw`); the
answer becomes the HTTP response. A handler that raises, or answers something that is not a proxy response,
gets API Gateway's `502 {"message": "Internal server error"}`. Paths outside the template are a JSON 404.

The `/_local/*` routes (docs/api.md, "The local stack") are served here and never deployed: the outbox, the
raw messages, SES Open/Click events, and `POST /_local/sns` into the events function. They are what the
console's local-only panels read (`GET /_local/outbox/{id}`: the parsed message with its Posthorn record, read
from the store directly); `GET /_local/` answers a redirect to the console, the one UI.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from posthorn import wiring
from posthorn.errors import PosthornError
from posthorn.ports import MessageReader
from posthorn.settings import ConfigurationSetSettings, Settings, running
from posthorn_local import outbox_view
from posthorn_local.apigw import LambdaContext, build_event, decode_response, match_route
from posthorn_local.ses_events_publisher import EventsPublisher, click_event, open_event
from posthorn_local.ses_smtp_server import Outbox
from posthorn_local.template import Route

logger = logging.getLogger(__name__)

# API Gateway refuses request bodies over 10 MB before the function runs (template.yaml's
# REQUEST_TOO_LARGE gateway response), and Lambda refuses events over 6 MB: a binary body is base64 in the
# event, so about 4.5 MB of raw bytes reach the function.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_EVENT_BYTES = 6 * 1024 * 1024
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
TOO_LARGE = "Request body over {limit}; use POST /v1/files/uploads"  # as in template.yaml
INTERNAL_ERROR = {"message": "Internal server error"}

# A message's HTML body framed by the console: sandboxed (no script, no form, an opaque origin), its inline
# styles and images shown, framed only by this origin.
PREVIEW_POLICY = "; ".join(
    [
        "sandbox",
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data: http: https:",
        "font-src data:",
        "frame-ancestors 'self'",
    ]
)
# Where `GET /_local/` sends a browser: the console, whose local-only panels show the outbox.
CONSOLE_PATH = "/console/"

Response = tuple[int, dict[str, str], bytes]
_DIGITS = re.compile(r"[0-9]{1,18}")
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]{1,15}")


class LambdaFunction:
    """One function of the template run in this process like a single Lambda instance: its handler is
    imported on first use and invocations run one at a time (the handlers keep per-invocation state). Its
    invocations read `settings`, the function's own (None: the process's environment)."""

    def __init__(self, logical_id: str, handler: str, settings: Settings | None = None) -> None:
        self.logical_id = logical_id
        self.handler = handler
        self.settings = settings
        self._lock = threading.Lock()
        self._function: Callable[[dict[str, Any], Any], Any] | None = None

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._function is None:
                module, _, attribute = self.handler.rpartition(".")
                self._function = getattr(importlib.import_module(module), attribute)
            name = f"posthorn-local-{self.logical_id}"
            context = LambdaContext(
                function_name=name,
                invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                log_group_name=f"/aws/lambda/{name}",
            )
            with running(self.settings):
                return self._function(event, context)


@dataclass
class LocalServices:
    """What the `/_local/*` routes read and drive."""

    outbox: Outbox
    publisher: EventsPublisher
    events_function: LambdaFunction
    # The local CA that signs the SMTP relay's (and the local SES's) certificate: `GET /_local/ca.pem`.
    ca_file: Path | None = None
    # What the banner says (URL, admin key, SMTP settings): `GET /_local/connection`, shown in the console.
    connection: Callable[[], dict[str, Any]] | None = None
    # The API's settings: the local routes read and act on the stack through the API's adapters. None:
    # there is no stack behind them (no Posthorn records to show).
    settings: Settings | None = None


def _json(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, default=str).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def _error(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The API's error shape (docs/api.md, "Errors")."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return _json(status, {"error": error}, headers)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# The local routes that read their query string.
QUERY_ROUTES = frozenset({("GET", "/_local/outbox")})


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        routes: list[Route],
        functions: dict[str, LambdaFunction],
        services: LocalServices,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.routes = routes
        self.functions = functions
        self.services = services
        self._local_routes: list[tuple[str, re.Pattern[str], str, Callable[..., Response]]] = [
            ("GET", re.compile(r"/_local/?"), "/_local/", self._index),
            ("GET", re.compile(r"/_local/outbox"), "/_local/outbox", self._outbox),
            ("DELETE", re.compile(r"/_local/outbox"), "/_local/outbox", self._clear_outbox),
            ("GET", re.compile(r"/_local/connection"), "/_local/connection", self._connection),
            ("GET", re.compile(r"/_local/outbox/(?P<id>[^/]+)"), "/_local/outbox/{id}", self._message),
            (
                "GET",
                re.compile(r"/_local/outbox/(?P<id>[^/]+)/attachments/(?P<index>[0-9]{1,6})"),
                "/_local/outbox/{id}/attachments/{index}",
                self._attachment,
            ),
            ("GET", re.compile(r"/_local/outbox/(?P<id>[^/]+)/raw"), "/_local/outbox/{id}/raw", self._raw),
            (
                "GET",
                re.compile(r"/_local/outbox/(?P<id>[^/]+)/preview"),
                "/_local/outbox/{id}/preview",
                self._preview,
            ),
            (
                "POST",
                re.compile(r"/_local/outbox/(?P<id>[^/]+)/open"),
                "/_local/outbox/{id}/open",
                self._open,
            ),
            (
                "POST",
                re.compile(r"/_local/outbox/(?P<id>[^/]+)/click"),
                "/_local/outbox/{id}/click",
                self._click,
            ),
            ("POST", re.compile(r"/_local/sns"), "/_local/sns", self._sns),
            ("GET", re.compile(r"/_local/ca\.pem"), "/_local/ca.pem", self._ca),
            ("GET", re.compile(r"/_local/events"), "/_local/events", self._events),
            # A domain's guard state, stats and resume, without a credential (tests and scripts read them).
            (
                "GET",
                re.compile(r"/_local/domains/(?P<domain>[^/]+)"),
                "/_local/domains/{domain}",
                self._domain,
            ),
            (
                "POST",
                re.compile(r"/_local/domains/(?P<domain>[^/]+)/resume"),
                "/_local/domains/{domain}/resume",
                self._resume,
            ),
        ]

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    # --- dispatch -------------------------------------------------------------------------------
    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> tuple[str, Response]:
        """(route name for the access log, response) for one request."""
        split = urlsplit(target)
        path = split.path
        if path == "/_local" or path.startswith("/_local/"):
            with running(self.services.settings):
                return self._local(method, path, body, split.query)
        matched = match_route(self.routes, method, path)
        if matched is None:
            # The resource API Gateway picks is the most specific one: literal segments win over a
            # `{parameter}` (`/v1/files/uploads` is not `/v1/files/{file_key}`).
            resources = [route for route in self.routes if route.pattern.match(path)]
            fewest = min((route.path.count("{") for route in resources), default=0)
            allowed = sorted({route.method for route in resources if route.path.count("{") == fewest})
            if allowed:
                return "(method not allowed)", _error(
                    405,
                    "method_not_allowed",
                    f"{method} is not allowed here",
                    headers={"Allow": ", ".join(allowed)},
                )
            return "(no route)", _error(404, "not_found", "no such route")
        route, parameters = matched
        event = build_event(
            method,
            path,  # API Gateway's REST `path` keeps the percent-encoding; path parameters are decoded
            resource=route.path,
            path_parameters={name: unquote(value) for name, value in parameters.items()},
            query=split.query,
            headers=headers,
            body=body if body else None,
            source_ip=client_ip,
        )
        if len(json.dumps(event)) > MAX_EVENT_BYTES:
            return route.path, _error(413, "payload_too_large", TOO_LARGE.format(limit="Lambda's 6 MB event"))
        return route.path, self._invoke_api(route, event)

    def _invoke_api(self, route: Route, event: dict[str, Any]) -> Response:
        request_id = event["requestContext"]["requestId"]
        try:
            answer = self.functions[route.function].invoke(event)
            status, headers, body = decode_response(answer)
        except Exception:
            logger.error(
                "%s failed on %s %s:\n%s", route.function, route.method, route.path, traceback.format_exc()
            )
            return _json(502, INTERNAL_ERROR, {"x-amzn-RequestId": request_id})
        return status, {**headers, "x-amzn-RequestId": request_id}, body

    def _local(self, method: str, path: str, body: bytes, query: str = "") -> tuple[str, Response]:
        matched = [(m, n, a, f) for m, p, n, a in self._local_routes if (f := p.fullmatch(path))]
        for route_method, name, action, found in matched:
            if route_method == method:
                extra = {"query": query} if (method, name) in QUERY_ROUTES else {}
                return name, action(body=body, **found.groupdict(), **extra)
        if matched:
            allowed = ", ".join(sorted({m for m, *_ in matched}))
            return matched[0][1], _error(
                405, "method_not_allowed", f"{method} is not allowed here", headers={"Allow": allowed}
            )
        return "(no route)", _error(404, "not_found", "no such local route")

    # --- /_local/* ------------------------------------------------------------------------------
    def _index(self, body: bytes) -> Response:
        """The old outbox page's address: the console is the one UI (its local panels show the outbox)."""
        return 302, {"Location": CONSOLE_PATH, "Cache-Control": "no-store"}, b""

    def _outbox(self, body: bytes, query: str = "") -> Response:
        """The items the contract lists (docs/api.md, "The local stack"), plus subject, From, To, the Posthorn
        message id and what Posthorn recorded of it (status, tags, metadata, client reference, domain; null
        when the store does not know it) for the console; `q`, `status`, `tag` and `recipient` filter them."""
        summaries = [outbox_view.summary(m) for m in self.services.outbox.list()]
        index = self._message_index()
        ids = [s["posthorn_message_id"] for s in summaries if s["posthorn_message_id"]]
        records = index.message_records(ids) if index is not None and ids else {}
        items = outbox_view.with_records(summaries, records)
        given = {name: values[-1] for name, values in parse_qs(query).items() if name in outbox_view.FILTERS}
        return _json(200, {"messages": outbox_view.filtered(items, given)})

    def _domain(self, body: bytes, domain: str) -> Response:
        """A domain's guard state and reputation (as `GET /v1/domains/{domain}`), and its stats of the
        last 30 days (as `GET /v1/stats?domain=`), in one answer."""
        from posthorn.logic.guard.pausing import domain_reputation
        from posthorn.logic.insight.stats import domain_stats
        from posthorn.models.domains import DomainView

        record = wiring.domains().get_domain(domain.lower())
        if record is None:
            return _error(404, "not_found", "no such domain")
        guard = wiring.guard_context()
        now = wiring.clock().now()
        stats = domain_stats([record.domain], wiring.stats(), now=now, domain=record.domain)
        view = DomainView.of(record, domain_reputation(record, guard)).model_dump(mode="json")
        return _json(200, {**view, "stats": stats.model_dump(mode="json")}, {"Cache-Control": "no-store"})

    def _resume(self, body: bytes, domain: str) -> Response:
        """`POST /v1/domains/{domain}/resume` without a credential."""
        from posthorn.logic.guard.pausing import resume_and_release

        try:
            resumed = resume_and_release(
                domain.lower(),
                wiring.guard_context(),
                wiring.held_messages(),
                wiring.send_queue(),
                now=wiring.clock().now(),
                monotonic=time.monotonic,
            )
        except PosthornError as error:
            return _error(404, error.code, error.message)
        record = resumed.record
        answer = {"domain": record.domain, "sending": record.sending, "released": resumed.released}
        return _json(200, {**answer, "more": resumed.more})

    def _clear_outbox(self, body: bytes) -> Response:
        """Forget every message the local SES received (Posthorn's own records stay)."""
        self.services.outbox.clear()
        return 204, {}, b""

    def _connection(self, body: bytes) -> Response:
        if self.services.connection is None:
            return _error(404, "not_found", "this server runs without a stack")
        return _json(200, self.services.connection(), {"Cache-Control": "no-store"})

    def _message(self, body: bytes, id: str) -> Response:
        """The parsed message (outbox_view.message_view), its Posthorn `record` (null if unknown) and its
        `webhook_deliveries` with their attempts."""
        message = self.services.outbox.get(id)
        if message is None:
            return _error(404, "not_found", "no outbox message has this id")
        view = outbox_view.message_view(message, self._tracking_sets())
        store, posthorn_id = self._store(), view["posthorn_message_id"]
        view["record"] = outbox_view.record_view(store, posthorn_id) if store and posthorn_id else None
        view["webhook_deliveries"] = (
            outbox_view.webhook_deliveries(wiring.webhook_deliveries(), wiring.webhooks(), posthorn_id)
            if store and posthorn_id
            else []
        )
        return _json(200, view, {"Cache-Control": "no-store"})

    def _preview(self, body: bytes, id: str) -> Response:
        """The HTML body (inline images resolved) as its own sandboxed document, for the console's preview
        frame: the console's policy allows no inline style, so the message cannot be a `srcdoc` there.
        The sandbox gives it an opaque origin: no script runs, no form submits, it reads nothing of the
        console."""
        message = self.services.outbox.get(id)
        view = outbox_view.message_view(message) if message is not None else None
        if view is None or view["html_preview"] is None:
            return _error(404, "not_found", "no HTML body for this outbox id")
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": PREVIEW_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        return 200, headers, str(view["html_preview"]).encode()

    def _attachment(self, body: bytes, id: str, index: str) -> Response:
        message = self.services.outbox.get(id)
        found = outbox_view.part(message, int(index)) if message is not None else None
        if found is None:
            return _error(404, "not_found", "no such attachment")
        filename = found.filename or f"part-{found.index}"
        headers = {
            "Content-Type": found.safe_content_type,
            # A download, never a page of this origin: the content is whatever the sender attached.
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
        }
        return 200, headers, found.data

    def _tracking_sets(self) -> outbox_view.TrackingSets | None:
        """The configuration sets the functions choose for tracked messages (their settings)."""
        if self.services.settings is None:
            return None
        settings = wiring.settings(ConfigurationSetSettings)
        return outbox_view.TrackingSets(
            opens=frozenset({settings.configuration_set_opens, settings.configuration_set_opens_clicks}),
            clicks=frozenset({settings.configuration_set_clicks, settings.configuration_set_opens_clicks}),
        )

    def _store(self) -> MessageReader | None:
        """Where the local routes read a Posthorn message: the table the local stack gives the functions."""
        return wiring.messages() if self.services.settings is not None else None

    def _message_index(self) -> outbox_view.PosthornMessages | None:
        """Where the outbox reads Posthorn's records of its messages, many at once (the listing's reads)."""
        return wiring.message_index() if self.services.settings is not None else None

    def _ca(self, body: bytes) -> Response:
        if self.services.ca_file is None:
            return _error(404, "not_found", "this stack has no local CA")
        return 200, {"Content-Type": "application/x-pem-file"}, self.services.ca_file.read_bytes()

    def _events(self, body: bytes) -> Response:
        return _json(200, {"events": [p.to_json() for p in self.services.publisher.published()]})

    def _raw(self, body: bytes, id: str) -> Response:
        message = self.services.outbox.get(id)
        if message is None:
            return _error(404, "not_found", "no outbox message has this id")
        return 200, {"Content-Type": "message/rfc822"}, message.raw

    def _open(self, body: bytes, id: str) -> Response:
        message = self.services.outbox.get(id)
        if message is None:
            return _error(404, "not_found", "no outbox message has this id")
        return self._publish(open_event(message))

    def _click(self, body: bytes, id: str) -> Response:
        request = _json_object(body)
        if request is None:
            return _error(400, "invalid_json", 'the body must be a JSON object: {"link": "<url>"}')
        link = request.get("link")
        if not isinstance(link, str) or not link.strip():
            return _error(
                422, "validation_error", "link is required", [{"field": "link", "message": "a URL string"}]
            )
        message = self.services.outbox.get(id)
        if message is None:
            return _error(404, "not_found", "no outbox message has this id")
        return self._publish(click_event(message, link))

    def _publish(self, event: dict[str, Any]) -> Response:
        try:
            result = self.services.publisher.publish(event)
        except Exception as error:
            return self._function_error(error)
        return _json(200, {"event": event, "result": result})

    def _sns(self, body: bytes) -> Response:
        event = _json_object(body)
        if event is None:
            return _error(400, "invalid_json", 'the body must be a Lambda SNS event: {"Records": [...]}')
        try:
            result = self.services.events_function.invoke(event)
        except Exception as error:
            return self._function_error(error)
        return _json(200, result)

    def _function_error(self, error: Exception) -> Response:
        logger.error("the events function failed:\n%s", traceback.format_exc())
        return _error(500, "function_error", f"{type(error).__name__}: {error}")


class BadFraming(ValueError):
    """The request's body cannot be delimited (a Content-Length that is not a number, a bad chunk size):
    answered 400, and the connection closed, since where the next request starts is unknown."""


class _RequestHandler(BaseHTTPRequestHandler):
    """Every method is answered as API Gateway would: one of the template's routes, or a JSON 404/405
    (TRACE, HEAD, CONNECT included; a HEAD answer has no body). A request whose body cannot be read is a
    JSON 400, never a dropped connection; the stdlib's own errors (a bad request line) are JSON too."""

    server: LocalHttpServer
    protocol_version = "HTTP/1.1"
    server_version = "PosthornLocal"

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method token (QUERY, PROPFIND, ...), which the stdlib answers with its own 501: a
        # method no route takes, as API Gateway answers it.
        if name.startswith("do_") and name[3:].isalpha():
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except BadFraming as error:
            self.close_connection = True
            name, response = "(bad request)", _error(400, "bad_request", str(error))
        else:
            name, response = self._answer(body)
        self._send(response)
        # Route templates, never concrete paths: those may hold addresses.
        logger.info(
            "%s %s %d (%.0f ms)", self.command, name, response[0], (time.perf_counter() - started) * 1000
        )

    def _answer(self, body: bytes | None) -> tuple[str, Response]:
        if body is None:
            self.close_connection = True
            return "(too large)", _error(413, "payload_too_large", TOO_LARGE.format(limit="10 MB"))
        headers: dict[str, str] = {}
        for header, value in self.headers.items():
            headers[header] = f"{headers[header]}, {value}" if header in headers else value
        return self.server.respond(self.command, self.path, headers, body, self.client_address[0])

    def _send(self, response: Response) -> None:
        status, headers_out, data = response
        self.send_response(status)
        for header, value in headers_out.items():
            if header.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(header, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's errors (a malformed request line, headers too long, ...) in the API's error shape
        (docs/api.md, "Errors")."""
        self.close_connection = True
        # A request line it could not parse leaves the stdlib at HTTP/0.9, which has no status line.
        self.request_version = "HTTP/1.1"
        reason = message or self.responses.get(code, ("error",))[0]
        self._send(_error(code, "bad_request" if code == 400 else "http_error", reason))

    def _read_body(self) -> bytes | None:
        """The request body; None when it is over API Gateway's limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = _chunk_size(self.rfile.readline())
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_REQUEST_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = _content_length(self.headers.get_all("Content-Length") or [])
        if length > MAX_REQUEST_BYTES:
            # Read and drop the body (as API Gateway takes the whole request before answering 413), so the
            # client, still sending, gets the answer instead of a broken pipe. Absurd sizes are cut off.
            remaining = length if length <= DRAIN_LIMIT_BYTES else 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib's access line holds the concrete path; _handle logs the route template instead.
        logger.debug(format, *args)


def _content_length(values: list[str]) -> int:
    """The one Content-Length (repeats of the same value allowed, RFC 9112 6.3); BadFraming otherwise."""
    lengths = {value.strip() for value in ",".join(values).split(",")} if values else {"0"}
    if len(lengths) != 1 or not _DIGITS.fullmatch(next(iter(lengths))):
        raise BadFraming("Content-Length must be one number of bytes")
    return int(next(iter(lengths)))


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip()
    if not _HEX_DIGITS.fullmatch(digits):
        raise BadFraming("a chunk size of the chunked body is not a hexadecimal number")
    return int(digits, 16)


def serve(server: LocalHttpServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
    thread.start()
    return thread
