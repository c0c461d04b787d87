"""The Starlette application: server-rendered pages and a JSON API over one ``Index``.

Every read of the index runs on a worker thread, one at a time: a Snapshot's caches (the
scorer's LRU of postings, the vectors and vocabularies opened on first use) and the
Snapshots' hand-over to a new commit are not safe for concurrent use, and most of a query
holds the GIL anyway. The event loop stays free meanwhile, and every request acquires the
newest commit, so a commit made while serving is searched by the next request.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import output
from ..api import Index
from ..errors import InputError, SearchError
from ..languages import LANGS
from ..searcher import Hit, Results
from .documents import Documents, doc_id

MAX_LIMIT = 1000
"""Hits a request may ask for: enough for any reader, and a bound on one request's work."""
MAX_CONTEXT = 20
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
T = TypeVar("T")


class BadRequest(Exception):
    """A parameter the request got wrong; its message says which and how."""


@dataclass(frozen=True)
class Ask:
    """A query as a request asks it."""

    q: str
    lang: str | None = None
    limit: int = 10
    context: int = 0
    cross: bool = True

    def params(self, **extra: object) -> str:
        """The query string that asks the same (for links between pages)."""
        fields: dict[str, object] = {"q": self.q}
        if self.lang:
            fields["lang"] = self.lang
        if self.limit != 10:
            fields["limit"] = self.limit
        if self.context:
            fields["context"] = self.context
        if not self.cross:
            fields["cross"] = "off"
        return urlencode({**fields, **extra})


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, not {value}")
    return value


def parse_ask(params: dict[str, str]) -> Ask:
    """The query parameters of a search, checked; raises BadRequest."""
    q = params.get("q", "")
    if not q.strip():
        raise BadRequest("empty query: give at least one word to search for (q=...)")
    lang = params.get("lang", "").strip() or None
    if lang is not None and lang not in LANGS:
        raise BadRequest(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    cross = params.get("cross", "on").strip().lower()
    if cross not in ("on", "off", "1", "0", "true", "false"):
        raise BadRequest(f"cross must be on or off, not {cross!r}")
    return Ask(q, lang, _integer(params, "limit", 10, 1, MAX_LIMIT),
               _integer(params, "context", 0, 0, MAX_CONTEXT), cross in ("on", "1", "true"))


def marked(text: str, spans: tuple[tuple[int, int], ...] | list[tuple[int, int]] = ()) -> Markup:
    """A passage as HTML: every character escaped, the matched words in <mark>."""
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out += [escape(text[last:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _templates() -> Jinja2Templates:
    environment = Environment(loader=PackageLoader("search.web", "templates"),
                              autoescape=select_autoescape(default=True, default_for_string=True),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["marked"] = marked
    environment.filters["score_parts"] = output.score_parts
    environment.globals["doc_id"] = doc_id
    return Jinja2Templates(env=environment)


class _Headers:
    """Adds the security headers to every response (an ASGI middleware: no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(index: Index) -> Starlette:
    """The application over an open index (the caller opens and closes it)."""
    templates = _templates()
    documents = Documents()
    lock = threading.Lock()

    async def read(work: Callable[[], T]) -> T:
        def locked() -> T:
            with lock:
                return work()

        return await run_in_threadpool(locked)

    async def run(ask: Ask) -> Results:
        try:
            return await read(lambda: index.search(ask.q, limit=ask.limit, lang=ask.lang, cross=ask.cross,
                                                   context=ask.context))
        except InputError as error:  # the query's syntax, as the CLI says it
            raise BadRequest(str(error)) from None

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    async def home(request: Request) -> Response:
        params = dict(request.query_params)
        form = {"q": params.get("q", ""), "lang": params.get("lang", ""), "limit": params.get("limit", "10"),
                "cross": params.get("cross", "on")}
        if "q" not in params:
            return page(request, "search.html", {"form": form, "ask": None})
        try:
            ask = parse_ask(params)
            results = await run(ask)
        except BadRequest as error:
            return page(request, "search.html", {"form": form, "ask": None, "error": str(error)}, 400)
        return page(request, "search.html", {
            "form": form, "ask": ask, "results": results, "explain": output.explain(results),
            "explaining": params.get("explain") == "1"})

    async def document(request: Request) -> Response:
        params = dict(request.query_params)
        ask, results = None, None
        if params.get("q", "").strip():
            try:
                ask = parse_ask(params)
                results = await run(ask)
            except BadRequest:
                ask = None

        def look_up() -> Any:
            with index.snapshot() as snapshot:
                return documents.find(snapshot, request.path_params["doc_id"])

        found = await read(look_up)
        if found is None:
            raise HTTPException(404, "no such document in the index")
        hits: list[Hit] = [hit for hit in results.hits if hit.key == found.key] if results else []
        try:
            current = int(params.get("passage", ""))
        except ValueError:
            current = hits[0].passage if hits else None
        return page(request, "document.html", {
            "document": found, "ask": ask, "hits": hits, "current": current,
            "highlights": {hit.passage: hit.highlights for hit in hits}})

    async def stats_page(request: Request) -> Response:
        stats = await read(index.stats)
        return page(request, "stats.html", {"stats": stats.to_json()})

    async def api_search(request: Request) -> Response:
        try:
            ask = parse_ask(dict(request.query_params))
            results = await run(ask)
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        hits = [json.loads(output.json_line(hit, None, results.corrected)) for hit in results.hits]
        return JSONResponse({"query": results.query, "corrected": results.corrected, "hits": hits})

    async def api_stats(request: Request) -> Response:
        return JSONResponse((await read(index.stats)).to_json())

    async def failed(request: Request, error: Exception) -> Response:
        """Any error as one line: JSON under /api/, else a page; never a traceback."""
        if isinstance(error, HTTPException):
            status, message = error.status_code, str(error.detail)
        elif isinstance(error, SearchError):
            status, message = 503, str(error)
        else:
            status, message = 500, f"internal error: {type(error).__name__}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        return page(request, "error.html", {"status": status, "message": message}, status)

    def guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        """An endpoint whose errors become a response: a SearchError (a damaged index) its message,
        anything else one line on stderr, as the CLI says it, instead of uvicorn's traceback."""

        @functools.wraps(endpoint)
        async def answer(request: Request) -> Response:
            try:
                return await endpoint(request)
            except HTTPException:
                raise
            except Exception as error:
                if not isinstance(error, SearchError):
                    logging.getLogger(__name__).error(
                        "internal error on %s: %s: %s", request.url.path, type(error).__name__, error)
                return await failed(request, error)

        return answer

    static = Path(__file__).parent / "static"
    app = Starlette(routes=[
        Route("/", guarded(home)),
        Route("/doc/{doc_id}", guarded(document)),
        Route("/stats", guarded(stats_page)),
        Route("/api/search", guarded(api_search)),
        Route("/api/stats", guarded(api_stats)),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ], exception_handlers={HTTPException: failed})
    app.add_middleware(_Headers)
    return app
