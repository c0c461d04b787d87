"""``search serve`` as a real process on a free port, for the tests and the bench."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO


class Server:
    """A running ``search serve``; ``stop()`` sends Ctrl-C and returns its exit code and stderr."""

    def __init__(self, index: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "search", "serve", "--index", str(index),
                                         "--port", "0", *args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.said: list[str] = []
        stderr: IO[str] = self.process.stderr  # type: ignore[assignment]
        for line in stderr:
            self.said.append(line)
            found = re.search(r"(http://\S+?)/? \(Ctrl-C stops\)", line)
            if found:
                self.url = found.group(1)
                return
        self.process.wait()
        raise RuntimeError(f"search serve did not start: {''.join(self.said)}")

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        self.process.send_signal(signum)
        rest = self.process.stderr.read()  # type: ignore[union-attr]
        return self.process.wait(30), "".join(self.said) + rest
