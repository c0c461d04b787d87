"""The ``search`` command: a thin layer over the Python API in ``search.api``."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from . import api
from .errors import ExitCode, InputError, SearchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Bilingual (English + Russian) passage search with cross-language lookup.\n\n"
         "Example: search index seeds/ && search query Rosoboronexport",
)


class LangChoice(str, Enum):
    en = "en"
    ru = "ru"


def _say(message: str) -> None:
    typer.echo(f"search: {message}", err=True)


def _handled(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report a SearchError as one line on stderr and exit with its code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SearchError as error:
            _say(str(error))
            raise typer.Exit(error.exit_code) from None

    return run


def _index_option() -> Any:
    return typer.Option(None, "--index", "-i", metavar="DIR",
                        help="Index folder. Default: $SEARCH_INDEX, or index/ in the current folder.")


class _Bars:
    """A progress bar for each phase of indexing, on a terminal only."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, label: str, total: int) -> None:
        self.close()
        if sys.stderr.isatty() and total:
            self.bar = typer.progressbar(length=total, label=f"{label:9}", file=sys.stderr)
            self.bar.__enter__()

    def advance(self, amount: int) -> None:
        if self.bar is not None:
            self.bar.update(amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _build(paths: list[str], index: str | None, rebuild: bool = False, vectors: bool = True,
           deep: bool = True, cluster: str | None = None) -> api.Report:
    """Index, with progress bars when stderr is a terminal, and a summary line."""
    bars = _Bars()
    with api.Index(index) as ix:
        try:
            report = ix.update(paths, rebuild=rebuild, vectors=vectors, deep=deep, progress=bars, warn=_say,
                               cluster=cluster or None)
        finally:
            bars.close()
    if report.vectors_missing:
        vectors_done = f"{report.vectors_missing} passages without vectors until the next run without --no-vectors"
    else:
        vectors_done = f"vectors: {report.encoded} texts encoded, {report.reused} passages reused"
    if report.deep_missing:
        deep_done = f"{report.deep_missing} passages without deep vectors until the next run without --no-deep"
    else:
        deep_done = f"deep vectors: {report.deep_encoded} texts encoded, {report.deep_reused} passages reused"
    _say(f"indexed {report.indexed}, updated {report.updated}, unchanged {report.unchanged}, "
         f"removed {report.removed}, {_skipped(report)}; {report.passages} new passages; "
         f"{vectors_done}; {deep_done}; in {ix.store.path}")
    return report


def _skipped(report: api.Report) -> str:
    """``skipped 4 files (unreadable 1, .xlsx 2, .png 1)``: the unreadable ones are named in warnings."""
    parts = ([f"unreadable {len(report.skipped)}"] if report.skipped else []) + \
        [f"{suffix} {count}" for suffix, count in report.unsupported.items()]
    total = len(report.skipped) + sum(report.unsupported.values())
    return f"skipped {total} files" + (f" ({', '.join(parts)})" if parts else "")


@app.command("index")
@_handled
def index_command(
    paths: Optional[list[str]] = typer.Argument(
        None, metavar="[PATH]...",
        help="Files and folders to index (.txt .md .html .htm .pdf .docx .odt .rtf .xlsx .pptx .epub, "
             "e-mail .eml .mbox .msg, archives .zip .tar .tar.gz .tgz .tar.bz2 .tar.xz .gz, images by OCR "
             ".png .jpg .tiff .bmp .webp; folders recursively). "
             "Default: seeds/",
    ),
    index: Optional[str] = _index_option(),
    rebuild: bool = typer.Option(False, "--rebuild", help="Start afresh instead of updating."),
    no_vectors: bool = typer.Option(
        False, "--no-vectors",
        help="Stop once the text index is committed: no passage vectors yet (a later run adds them)."),
    no_deep: bool = typer.Option(
        False, "--no-deep",
        help="Stop before the deep phase (e5 vectors, the slowest part): a later run adds them, and "
             "queries meanwhile use them for the passages that have them."),
    cluster: Optional[str] = typer.Option(
        None, "--cluster", metavar="ADDRESS", envvar="SEARCH_CLUSTER",
        help="Analyse and encode on a Dask cluster: tcp://HOST:PORT (a running `dask scheduler`), "
             "or local:N to start N worker processes here. Default: $SEARCH_CLUSTER, else this machine's cores."),
) -> None:
    """Index files, or bring the index in sync with them.

    New and changed files are indexed, files gone from PATH are removed, unchanged
    files are skipped, files indexed from other paths stay. The text index is
    committed first and answers queries at once; passage vectors follow in a
    second phase, and e5's deep vectors, which cross languages best, in a
    third. Each commits as it goes: after Ctrl-C or a crash, the same command
    continues where it stopped.

    \b
    Examples:
      search index seeds/ notes/ --index /tmp/ix
      search index ~/reports --no-vectors     # text now, vectors later
      search index ~/reports --no-deep        # all but the deep vectors, which a later run adds
      search index ~/reports --cluster tcp://scheduler:8786
    """
    _build(paths or api.DEFAULT_SOURCES, index, rebuild, vectors=not no_vectors, deep=not no_deep,
           cluster=cluster)


@app.command("query")
@_handled
def query_command(
    text: Optional[str] = typer.Argument(
        None, metavar="[TEXT]",
        help='The query: words, "exact phrase", AND / OR / NOT, -word, =exact, prefix*, lang:ru.',
    ),
    index: Optional[list[str]] = typer.Option(
        None, "--index", "-i", metavar="DIR",
        help="Index folder; give it more than once to search several as one index of their union "
             "(each hit names its index). Default: $SEARCH_INDEX, or index/ in the current folder."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, help="Hits per query, at least 1."),
    lang: Optional[LangChoice] = typer.Option(None, "--lang", "-l", help="Only passages in this language."),
    json_output: bool = typer.Option(False, "--json", help="JSON Lines: one object per hit."),
    context_passages: int = typer.Option(
        0, "--context", "-C", min=0, metavar="N",
        help="Show N passages before and after each hit, as grep -C does (JSON: \"before\" and \"after\")."),
    batch: Optional[str] = typer.Option(
        None, "--batch", "-b", metavar="FILE",
        help="Run one query per line, written ID<TAB>QUERY ('-' reads stdin); "
             "each JSON hit carries its qid.",
    ),
    no_cross: bool = typer.Option(
        False, "--no-cross", help="Search the literal query only: no repair of mistyped words, no translation."),
    explain: bool = typer.Option(
        False, "--explain", help="Show on stderr how the query was expanded and what each hit's score is made of."),
) -> None:
    """Rank passages in both languages against a query in English or Russian.

    Exit status as grep: 0 if anything was found, 1 if nothing was, 2 on an error.

    \b
    Examples:
      search query Rosoboronexport
      search query "противовоздушная оборона" --lang en --explain
      search query "gjldjlyst kjlrb"   # wrong layout: searches подводные лодки
      search query '"military cooperation"' --json --limit 3
      search query Rosoboronexport -C 1     # with the passage before and after each hit
      printf 'q1\\tShoigu\\n' | search query --batch - --json
      search query Shoigu --index news-2024 --index news-2025   # two indexes ranked as one
    """
    if (text is None) == (batch is None):
        raise InputError("give either a query TEXT or --batch FILE")
    queries = list(_read_batch(batch)) if batch is not None else [(None, text or "")]
    if not index and api.default_index_missing(None):
        _say(f"no index yet; building it from {' '.join(api.DEFAULT_SOURCES)}/ first")
        _build(api.DEFAULT_SOURCES, None)
    from . import output

    colour = output.use_colour(sys.stdout)
    found = False
    with api.MultiIndex(index) if index and len(index) > 1 else api.Index.open(index[0] if index else None) as ix:
        for qid, query in queries:
            results = ix.search(query, limit=limit, lang=lang.value if lang else None, cross=not no_cross,
                                context=context_passages)
            found = found or bool(results.hits)
            repaired = output.correction(results)
            if repaired:
                _say(f"{qid}: {repaired}" if qid is not None else repaired)
            if explain:
                for line in output.explain(results):
                    typer.echo(line, err=True)
            if qid is not None and not json_output:
                typer.echo(f"# {qid}: {query}")
            for hit in results.hits:
                typer.echo(output.json_line(hit, qid, results.corrected) if json_output
                           else output.text_block(hit, colour))
    raise typer.Exit(ExitCode.OK if found else ExitCode.NO_HITS)


def _read_batch(path: str) -> Iterator[tuple[str, str]]:
    try:
        content = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"cannot read batch file {path}: {reason}") from None
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        qid, tab, query = line.partition("\t")
        if not tab:
            raise InputError(f"{path}:{number}: expected ID<TAB>QUERY")
        yield qid.strip(), query


@app.command("stats")
@_handled
def stats_command(
    index: Optional[str] = _index_option(),
    json_output: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """Documents, passages per language, size and last update of an index.

    Example: search stats --json
    """
    with api.Index.open(index) as ix:
        stats = ix.stats().to_json()
    if json_output:
        typer.echo(json.dumps(stats, ensure_ascii=False))
        return
    for key, value in stats.items():
        typer.echo(f"{key}: {value}")


@app.command("serve")
@_handled
def serve_command(
    index: Optional[str] = _index_option(),
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="ADDRESS",
        help="Address to listen on. Default 127.0.0.1 (this machine only); any other gets a warning: "
             "there is no login."),
    port: int = typer.Option(8080, "--port", "-p", min=0, max=65535, metavar="PORT",
                             help="Port to listen on; 0 picks a free one (the URL printed says which)."),
) -> None:
    """Serve a search page, document views and a JSON API over an index, in a browser.

    Prints the URL on stderr once it answers; Ctrl-C stops it. Pages: / (search box;
    /?q=TEXT&lang=ru is a results page), /doc/ID (a document, its hits marked), /stats.
    JSON: /api/search?q=TEXT&lang=&limit=&context=&cross=on|off (the hits of search query
    --json) and /api/stats (search stats --json). A commit made while serving is searched
    by the next request.

    \b
    Examples:
      search serve --index ~/reports-index          # then open http://127.0.0.1:8080/
      search serve --port 0                         # a free port
      search serve --host 0.0.0.0 --port 8000       # reachable from other machines (warns)
      curl 'http://127.0.0.1:8080/api/search?q=Rosoboronexport&limit=3'
    """
    from .web.serve import serve

    with api.Index.open(index) as ix:
        try:
            serve(ix, host, port, _say)
        except KeyboardInterrupt:
            pass
    _say("stopped")


def main() -> None:
    """Entry point. An unexpected error is still one line (SEARCH_DEBUG=1 shows the traceback)."""
    logging.basicConfig(format="search: %(message)s", level=logging.WARNING)
    try:
        app()
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(130)
    except Exception as error:
        if os.environ.get("SEARCH_DEBUG"):
            raise
        _say(f"internal error: {type(error).__name__}: {error} (SEARCH_DEBUG=1 shows details)")
        sys.exit(ExitCode.ERROR)
