"""Run one page's Python blocks in order, in one namespace: ``python doc_runner.py SPEC``.

``SPEC`` is a JSON file: ``{"root": checkout, "page": name, "blocks": [[line, code], ...],
"report": file}``; the ``page:line`` of each block that ran to its end is appended to
``report``.
The blocks run in the current directory (the test gives each page an empty temporary one),
offline (a connection to anything but this machine raises), with the placeholders of
``doc_placeholders`` already defined. Each block is compiled under the page's name with
its Markdown line numbers, so a traceback points into the page. Exit status 1 on the first
failing block.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import traceback
from pathlib import Path
from typing import Any


def _is_local(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like never leave the machine
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _offline() -> None:
    """Refuse every connection and name lookup that would leave this machine."""
    connect, connect_ex, getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def guard(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_local(host):
            raise OSError(f"docs code blocks run offline: connection to {address!r} refused")

    def checked_connect(self: socket.socket, address: Any) -> None:
        guard(address)
        connect(self, address)

    def checked_connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return connect_ex(self, address)

    def checked_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_local(host if isinstance(host, str) else host.decode()):
            raise OSError(f"docs code blocks run offline: lookup of {host!r} refused")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = checked_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = checked_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = checked_getaddrinfo


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    sys.path.insert(0, spec["root"])  # this checkout's packages, as the tests import them
    sys.path.insert(1, str(Path(__file__).parent))
    _offline()
    from doc_placeholders import placeholders

    namespace: dict[str, Any] = {"__name__": "__main__", **placeholders()}
    for line, code in spec["blocks"]:
        where = f"{spec['page']}:{line}"
        try:
            # padded so the compiled lines carry the page's own line numbers
            exec(compile("\n" * line + code, spec["page"], "exec"), namespace)
        except BaseException:
            print(f"FAILED: the block at {where}", flush=True)
            traceback.print_exc()
            return 1
        with open(spec["report"], "a", encoding="utf-8") as report:
            report.write(where + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
