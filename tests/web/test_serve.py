"""``search serve`` as a process: it says where it listens, warns off loopback, stops cleanly on
Ctrl-C and SIGTERM, and a missing or damaged index is the CLI's usual one-line error."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .server import Server


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search", "serve", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_explains_every_option_with_an_example() -> None:
    result = _serve("--help")
    assert result.returncode == 0
    for option in ("--index", "--host", "--port", "127.0.0.1", "Example", "/api/search"):
        assert option in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_it_serves_until_stopped_then_exits_cleanly(web_corpus: Path, signum: int) -> None:
    server = Server(web_corpus / "index")
    assert server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{server.url}/api/search?q=Rosoboronexport&limit=1") as response:
        assert json.load(response)["hits"][0]["rank"] == 1
    code, said = server.stop(signum)
    assert code in (0, 130)
    assert "Traceback" not in said and said.strip().splitlines()[-1] == "search: stopped"
    assert "warning" not in said


def test_another_address_than_loopback_gets_a_warning(web_corpus: Path) -> None:
    server = Server(web_corpus / "index", "--host", "0.0.0.0")
    code, said = server.stop()
    assert code in (0, 130) and "warning: listening on 0.0.0.0" in said and "no login" in said


def test_a_port_in_use_is_a_one_line_error(web_corpus: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _serve("--index", str(web_corpus / "index"), "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("search: cannot listen on 127.0.0.1:")


def test_a_missing_index_is_the_usual_error(tmp_path: Path) -> None:
    result = _serve("--index", str(tmp_path / "none"))
    assert result.returncode == 2
    assert result.stderr == f"search: no index at {tmp_path / 'none'} (build one with: search index PATH)\n"


def test_a_damaged_index_is_the_usual_error(web_corpus: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(web_corpus / "index", copy)
    for toc in copy.glob("*.toc"):
        toc.write_bytes(b"\x00garbage")
    result = _serve("--index", str(copy))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("search: ")


def test_bad_option_values_are_usage_errors(web_corpus: Path) -> None:
    result = _serve("--index", str(web_corpus / "index"), "--port", "http")
    assert result.returncode == 2 and "Traceback" not in result.stderr
