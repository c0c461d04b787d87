"""Run the application under uvicorn: bind first (so a busy port is a clear error), say the URL
once it answers, stop cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import ipaddress
import signal
import socket
from typing import Callable

import uvicorn

from ..api import Index
from ..errors import InputError, SearchError
from .app import create_app

WARM_UP = "warm up the sentence encoder and passage vectors"
"""A natural-language query run before serving, so that the first request does not pay for loading."""


def loopback(host: str) -> bool:
    """Whether only this machine can reach the address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or an InputError saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        # proto named IPPROTO_TCP, so that asyncio sets TCP_NODELAY on each connection: with proto
        # 0 it does not, and a keep-alive response's second write waited 40 ms for a delayed ACK.
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens once it is ready."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(index: Index, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt reaches the caller) or SIGTERM (the same)."""
    index.stats()  # a damaged index is the CLI's usual error before anything listens
    try:
        index.search(WARM_UP, limit=1)
    except SearchError:
        pass
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if not loopback(host):
        say(f"warning: listening on {host}, not this machine only: anyone who can reach it can read "
            f"the index (there is no login)")
    config = uvicorn.Config(create_app(index), log_level="warning", access_log=False, lifespan="off",
                            server_header=False)
    server = _Server(config, lambda: say(f"serving {index.store.path} at http://{shown}:{bound}/ (Ctrl-C stops)"))
    signal.signal(signal.SIGTERM, _stop)
    server.run(sockets=[sock])
