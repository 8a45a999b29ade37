"""A small fault-injecting TCP proxy: put it between a ``Database`` and its server, then add
latency, cut every connection mid-query, or turn it into a black hole (half-open connections).

Knobs, all changeable while traffic flows:

* ``latency`` — seconds added before each forwarded chunk, in both directions;
* ``cut()`` — abort every open connection at once (both sides see the socket die);
* ``blackhole = True`` — stop forwarding in both directions: open connections stay open but
  never answer again, and new connections are accepted but never reach the server. Data sent
  meanwhile is dropped, so turning it off again does not resurrect the old connections.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["FaultProxy"]


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.latency = 0.0
        self.blackhole = False
        self.port = 0
        #: Counters for the reports: connections accepted, cut, bytes forwarded and dropped.
        self.accepted = 0
        self.cut_count = 0
        self.dropped_bytes = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._closed = False

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    @property
    def open_connections(self) -> int:
        return len(self._links)

    def cut(self) -> int:
        """Abort every open connection; return how many were cut."""
        links = list(self._links)
        for link in links:
            link.abort()
        self._links.clear()
        self.cut_count += len(links)
        return len(links)

    async def close(self) -> None:
        self._closed = True
        if self._server is not None:
            self._server.close()
        self.cut()
        # Let handlers of connections accepted just now run (and stop at once) before the
        # loop goes away: a handler task never started would be reported as cancelled.
        for _ in range(3):
            await asyncio.sleep(0)
        self.cut()
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closed:
            writer.transport.abort()
            return
        self.accepted += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            if self.blackhole:
                # Accept and never answer: swallow whatever the client sends.
                while await reader.read(65536):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
            link.upstream = up_writer
            link.tasks = [
                asyncio.create_task(self._pump(reader, up_writer)),
                asyncio.create_task(self._pump(up_reader, writer)),
            ]
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            link.abort()
            self._links.discard(link)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                if self.blackhole:
                    self.dropped_bytes += len(data)
                    continue
                if self.latency:
                    await asyncio.sleep(self.latency)
                    if self.blackhole:
                        self.dropped_bytes += len(data)
                        continue
                writer.write(data)
                await writer.drain()
