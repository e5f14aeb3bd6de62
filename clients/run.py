"""`make run`: the provider and the two demo portals in one terminal.

Ctrl-C stops all three cleanly (each gets SIGINT, the provider's workers finish the
request in hand) and the command exits 0; if one of them stops on its own (a port
already taken, say), the others are stopped too and the command exits 1.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

#: How long each process has to stop after Ctrl-C before it is killed.
GRACE_SECONDS = 10


def _commands(host: str, port: int) -> list[list[str]]:
    python = sys.executable
    return [
        [python, "-m", "clients.portal", "land"],
        [python, "-m", "clients.portal", "business"],
        [python, "-m", "idp.cli", "serve", "--host", host, "--port", str(port)],
    ]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + GRACE_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    """Start the three processes; return 0 after Ctrl-C, 1 if one stopped by itself."""
    args = argv if argv is not None else sys.argv[1:]
    port = int(args[0]) if args else 5000
    procs = [subprocess.Popen(cmd) for cmd in _commands("127.0.0.1", port)]  # noqa: S603
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.3)
    except KeyboardInterrupt:
        _stop(procs)
        print("stopped", file=sys.stderr)
        return 0
    _stop(procs)
    print("a process stopped on its own: everything was stopped", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
