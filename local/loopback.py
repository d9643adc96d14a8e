"""The lifecycle every local server shares: an HTTP server on a loopback port (a
ThreadingHTTPServer, or werkzeug's for a WSGI app), served from a daemon thread, started and
stopped explicitly or as a context manager."""

import threading
from abc import ABC, abstractmethod
from http.server import HTTPServer
from types import TracebackType
from typing import ClassVar, Self


class LoopbackServer(ABC):
    thread_name: ClassVar[str] = "loopback-server"
    # stop() waits up to one poll interval; the default 0.5 s would slow every test's teardown.
    poll_interval: ClassVar[float] = 0.05

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _make_server(self, address: tuple[str, int]) -> HTTPServer:
        """The HTTP server, bound to `address`, whose request handlers know this object."""

    def start(self) -> Self:
        self._server = self._make_server(self._address)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._bound_address()
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._bound_address()[1]

    def _bound_address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError(f"{self.thread_name} is not running; call start() first")
        host, port = self._server.server_address[:2]
        return str(host), int(port)
