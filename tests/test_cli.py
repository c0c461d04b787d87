"""The CLI contract, driven through typer's runner: output, JSON Lines and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from search import Index
from search.cli import app

from .conftest import ROOT, SEEDS

FIELDS = {"rank", "score", "doc", "passage", "lang", "text", "start", "end"}


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, index: Index, *args: str, input: str | None = None):
    return runner.invoke(app, [*args, "--index", str(index.store.path)], input=input)


def json_hits(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_query_lists_english_and_russian_passages(runner: CliRunner, seeds_index: Index) -> None:
    result = run(runner, seeds_index, "query", "Rosoboronexport")
    assert result.exit_code == 0
    assert "000_" in result.output and "003_" in result.output and "Рособоронэкспорта" in result.output


def test_json_lines_carry_the_contract_fields(runner: CliRunner, seeds_index: Index) -> None:
    result = run(runner, seeds_index, "query", "Рособоронэкспорта", "--lang", "ru", "--json")
    assert result.exit_code == 0
    hits = json_hits(result.stdout)
    assert hits[0]["doc"].endswith("002_ee52442a67b35ebb.txt")
    for hit in hits:
        assert FIELDS <= hit.keys() and hit["lang"] == "ru"
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:]))


def test_json_offsets_point_into_the_document(runner: CliRunner, seeds_index: Index) -> None:
    hits = json_hits(run(runner, seeds_index, "query", "military cooperation", "--json").stdout)
    for hit in hits:
        source = (SEEDS / Path(hit["doc"]).name).read_text(encoding="utf-8")
        assert source[hit["start"]:hit["end"]] == hit["text"]


def test_limit_bounds_the_hits(runner: CliRunner, seeds_index: Index) -> None:
    assert len(json_hits(run(runner, seeds_index, "query", "China", "--json", "--limit", "3").stdout)) == 3


def test_phrase_query_returns_only_passages_with_the_phrase(runner: CliRunner, seeds_index: Index) -> None:
    hits = json_hits(run(runner, seeds_index, "query", '"military cooperation"', "--json").stdout)
    assert hits and all("military cooperation" in " ".join(h["text"].lower().split()) for h in hits)


def test_cross_language_hits_serialise_as_json(runner: CliRunner, seeds_index: Index) -> None:
    """Scores of passages found through weighted translations are plain numbers in JSON
    (numpy's float32 once leaked into them and broke --json)."""
    for query in ("визит в Пекин", "modern weapons"):
        result = run(runner, seeds_index, "query", query, "--json", "--explain")
        assert result.exit_code == 0, result.output
        hits = json_hits(result.stdout)
        assert "en" in {hit["lang"] for hit in hits}
        assert all(isinstance(hit["score"], float) for hit in hits)


def test_no_hit_exits_1_with_no_output(runner: CliRunner, seeds_index: Index) -> None:
    result = run(runner, seeds_index, "query", "zzqqxx", "--json")
    assert (result.exit_code, result.stdout) == (1, "")


@pytest.mark.parametrize("args", [
    ["query", "China", "--lang", "de"],
    ["query", "China", "--limit", "0"],
    ["query", "China", "--limit", "many"],
    ["query", "AND"],
    ["query"],
])
def test_bad_usage_exits_2_without_a_traceback(runner: CliRunner, seeds_index: Index, args: list[str]) -> None:
    result = run(runner, seeds_index, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_missing_index_and_missing_path_exit_2_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "China", "--index", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no index at" in result.stderr
    result = runner.invoke(app, ["index", str(tmp_path / "nope"), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 2 and result.stderr.strip().count("\n") == 0 and "nope" in result.stderr


def test_batch_queries_tag_each_hit_with_its_qid(runner: CliRunner, seeds_index: Index, tmp_path: Path) -> None:
    batch = tmp_path / "queries.tsv"
    batch.write_text("q1\tRosoboronexport\nq2\tzzqqxx\n\nq3\tШойгу\n", encoding="utf-8")
    result = run(runner, seeds_index, "query", "--batch", str(batch), "--json", "--limit", "2")
    assert result.exit_code == 0
    hits = json_hits(result.stdout)
    assert [h["qid"] for h in hits] == ["q1", "q1", "q3"]  # Shoigu is named in one passage only
    stdin = run(runner, seeds_index, "query", "--batch", "-", "--json", input="x\tzzqqxx\n")
    assert stdin.exit_code == 1


def test_malformed_batch_file_exits_2(runner: CliRunner, seeds_index: Index, tmp_path: Path) -> None:
    batch = tmp_path / "queries.tsv"
    batch.write_text("no tab here\n", encoding="utf-8")
    result = run(runner, seeds_index, "query", "--batch", str(batch))
    assert result.exit_code == 2 and "ID<TAB>QUERY" in result.stderr
    assert run(runner, seeds_index, "query", "--batch", str(tmp_path / "none")).exit_code == 2


def test_no_colour_when_not_a_terminal(runner: CliRunner, seeds_index: Index) -> None:
    result = run(runner, seeds_index, "query", "Rosoboronexport")
    assert "\x1b[" not in result.output
    assert "1. seeds/003_99d6f361f7236c8b.txt #" in result.output or "1. " in result.output.splitlines()[0]


def test_explain_shows_each_alternative_and_its_source(runner: CliRunner, seeds_index: Index) -> None:
    result = run(runner, seeds_index, "query", "противовоздушная оборона", "--explain", "--lang", "en")
    assert result.exit_code == 0
    assert "air defense (glossary" in result.stderr


def test_query_builds_a_missing_default_index_from_seeds(runner: CliRunner, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEARCH_INDEX", raising=False)
    result = runner.invoke(app, ["query", "Rosoboronexport", "--json"])
    assert result.exit_code == 0
    assert "building it from seeds" in result.stderr
    assert (tmp_path / "index").is_dir()
    again = runner.invoke(app, ["query", "Rosoboronexport", "--json"])
    assert "building" not in again.stderr and again.stdout == result.stdout


def test_index_command_reports_and_stats_describe_the_index(runner: CliRunner, tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    result = runner.invoke(app, ["index", str(SEEDS), "--index", index, "--no-deep"])
    assert result.exit_code == 0 and "indexed 5" in result.stderr
    stats = json.loads(runner.invoke(app, ["stats", "--index", index, "--json"]).stdout)
    assert stats["documents"] == 5
    assert stats["passages"]["ru"] > 5 and stats["passages"]["en"] > 50
    assert stats["size_bytes"] > 0 and stats["last_update"]
    passages = sum(stats["passages"].values())
    assert stats["vectors"] == passages and stats["deep"] == 0
    assert f"{passages} passages without deep vectors until the next run without --no-deep" in result.stderr
    result = runner.invoke(app, ["index", str(SEEDS), "--index", index])  # continues with the deep phase
    assert result.exit_code == 0 and "deep vectors: " in result.stderr and "unchanged 5" in result.stderr
    assert f"deep: {passages}" in runner.invoke(app, ["stats", "--index", index]).stdout


def test_help_explains_every_option_with_an_example(runner: CliRunner) -> None:
    for command in ("index", "query", "stats"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output
    assert "--no-cross" in runner.invoke(app, ["query", "--help"]).output


@pytest.mark.parametrize("query", [
    '"unbalanced quote', "(unbalanced bracket", "closing ) bracket", "AND", "NOT", "OR China",
    "*", "field:", "China\x07\x1b[31m", "x" * 5000, " ".join(["China"] * 1000), "", "   ", "-", "=",
])
def test_any_query_exits_0_1_or_2_with_at_most_one_line_of_error(runner: CliRunner, seeds_index: Index,
                                                                  query: str) -> None:
    result = run(runner, seeds_index, "query", query)
    assert result.exit_code in (0, 1, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("args", "code"), [
    (["Rosoboronexport", "--json"], 0),
    (["zzqxjv"], 1),
    (["--limit", "0", "Rosoboronexport"], 2),
    ([b"caf\xff grain".decode("utf-8", "surrogateescape")], 2),
])
def test_the_installed_command_ends_a_query_with_its_exit_code_and_all_its_output(
        seeds_index: Index, args: list[str], code: int) -> None:
    """search.launch ends a query's process without tearing the interpreter down: what it
    printed must still arrive whole, and the exit code be grep's."""
    done = subprocess.run([sys.executable, "-m", "search", "query", *args, "--index", str(seeds_index.store.path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    if code == 0:
        hits = json_hits(done.stdout)
        assert len(hits) == 10 and all(FIELDS <= set(hit) for hit in hits)
    else:
        assert not done.stdout and "Traceback" not in done.stderr


IMPORTS = """
import sys
from pathlib import Path
from search.launch import _without_urllib_request
with _without_urllib_request():
    import search.cli, whoosh.compat
print("http.client" in sys.modules, "urllib.request" in sys.modules)
with _without_urllib_request():
    from urllib.request import pathname2url  # a module imported meanwhile that asks for more
print(pathname2url("/a b"), "http.client" in sys.modules)
source, copy = Path(sys.argv[1]), Path(sys.argv[2])
whoosh.compat.urlretrieve(source.as_uri(), copy)
import urllib.request
print(Path(urllib.request.__file__).name, urllib.request.urlopen.__name__, copy.read_text(encoding="utf-8"))
"""


def test_the_command_starts_without_urllib_which_whoosh_imports_and_never_uses(tmp_path: Path) -> None:
    """whoosh.compat's urlretrieve still works if called, and urllib.request imports as itself afterwards."""
    source = tmp_path / "note.txt"
    source.write_text("Рособоронэкспорт", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", IMPORTS, str(source), str(tmp_path / "copy.txt")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == ["False False", "/a%20b True", "request.py urlopen Рособоронэкспорт"]


def test_a_repaired_query_says_so_on_stderr_and_in_each_json_line(runner: CliRunner, seeds_index: Index) -> None:
    result = run(runner, seeds_index, "query", "gjldjlyst kjlrb", "--json")
    assert result.exit_code == 0
    assert 'search: showing results for "подводные лодки" (typed "gjldjlyst kjlrb")' in result.stderr
    assert {hit["corrected"] for hit in json_hits(result.stdout)} == {"подводные лодки"}
    clean = run(runner, seeds_index, "query", "подводные лодки", "--json")
    assert "showing results" not in clean.stderr
    assert {hit["corrected"] for hit in json_hits(clean.stdout)} == {None}


def test_query_searches_several_indexes_as_one(runner: CliRunner, seeds_index: Index, tmp_path: Path) -> None:
    """--index given twice: one ranking over both, each JSON hit naming its index."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("Rosoboronexport signed a new contract.", encoding="utf-8")
    Index(tmp_path / "index").update([str(other)], deep=False)
    result = runner.invoke(app, ["query", "Rosoboronexport", "--json", "--limit", "50",
                                 "--index", str(seeds_index.store.path), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    hits = json_hits(result.output)
    assert {hit["index"] for hit in hits} == {str(seeds_index.store.path), str(tmp_path / "index")}
    assert [hit["rank"] for hit in hits] == list(range(1, len(hits) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:]))
