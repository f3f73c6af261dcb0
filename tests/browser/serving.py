"""A live OrderFlow server on loopback for the browser tests and the editor benchmark.

Waitress runs its event loop in one thread. Closing its sockets from another thread while
that loop sits in ``select`` makes the loop fail with "Bad file descriptor", so the server is
stopped from inside its own loop: once the requests in flight have finished, a callback run
by the loop closes every connection and the listening socket and stops watching its wake-up
pipe; the loop, with nothing left to watch, returns. The pipe itself is closed last, after
the loop has gone, because a request thread may still be writing to it to wake the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress import wasyncore
from waitress.server import create_server


@contextmanager
def serving(app: object, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress-loop", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:

        def stop_watching() -> None:
            for channel in list(server._map.values()):
                if channel is server:
                    wasyncore.dispatcher.close(server)  # the listening socket only
                elif channel is not server.trigger:
                    channel.close()
            server.trigger.del_channel()

        server.task_dispatcher.shutdown(timeout=5)  # requests in flight finish first
        server.trigger.pull_trigger(stop_watching)
        thread.join(timeout=10)
        server.trigger.close()
        if thread.is_alive():
            raise RuntimeError("the test server's loop did not stop within 10 s")
