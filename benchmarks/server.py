"""A tiny loopback HTTP/1.1 server that serves the benchmark fixtures byte for byte.

``python -m benchmarks.server --port 0`` prints ``listening <port> <fixture digest>`` and serves
``POST /<fixture>/v1/chat/completions`` with keep-alive: JSON with a Content-Length, or SSE with
chunked transfer encoding, one event per write. It binds to 127.0.0.1 only and stops by itself
after ``--timeout`` seconds. It runs in its own process so the client's CPU time is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from benchmarks.fixtures import build_fixtures, digest_all

_HEAD = "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\nx-trace-id: bench-trace\r\n{length}\r\n"


def _head(status: str, ctype: str, length: int | None) -> bytes:
    framing = (
        f"content-length: {length}\r\n" if length is not None else "transfer-encoding: chunked\r\n"
    )
    return _HEAD.format(status=status, ctype=ctype, length=framing).encode()


def make_handler(fixtures):  # noqa: C901
    not_found = b'{"error":{"message":"no fixture","type":"not_found"}}'

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                fixture = fixtures.get(path.lstrip("/").split("/", 1)[0])
                if fixture is None:
                    writer.write(_head("404 Not Found", "application/json", len(not_found)))
                    writer.write(not_found)
                elif not fixture.stream:
                    writer.write(_head("200 OK", "application/json", len(fixture.body)))
                    writer.write(fixture.body)
                else:
                    writer.write(_head("200 OK", "text/event-stream", None))
                    for i, event in enumerate(fixture.events):
                        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                        if i % 64 == 63:
                            await writer.drain()
                    writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return serve


async def main_async(port: int, timeout: float, fixtures) -> None:
    server = await asyncio.start_server(make_handler(fixtures), "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound} {digest_all(fixtures)}", flush=True)
    async with server:
        await asyncio.sleep(timeout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--stream-chunks", type=int, default=2000)
    parser.add_argument("--memory-chunks", type=int, default=20000)
    args = parser.parse_args(argv)
    fixtures = build_fixtures(args.stream_chunks, args.memory_chunks)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args.port, args.timeout, fixtures))


if __name__ == "__main__":
    main()
