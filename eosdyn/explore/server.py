"""Serving ``eosdyn explore``: a Bokeh server with the app at ``/``, on one socket bound before the
URL is printed (a free port when ``port`` is 0), stopped cleanly by SIGINT or SIGTERM."""

from __future__ import annotations

import signal
from functools import partial
from pathlib import Path

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import BaseServer
from bokeh.server.tornado import BokehTornado
from bokeh.server.util import bind_sockets
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from ..errors import ParameterError
from ..model.params import Params
from .app import Context, make_document
from .model import Runner
from .orbits import OrbitDiagram


def listen(host: str, port: int):
    """Bound sockets and the port they listen on; one-line error if that is impossible."""
    try:
        return bind_sockets(host, port)
    except OSError as exc:
        raise ParameterError("port", f"{port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def serve(diagram: OrbitDiagram, base: Params, save_dir: Path, host: str = "127.0.0.1", port: int = 0,
          echo=print) -> None:
    """Serve the explorer until SIGINT/SIGTERM; ``echo`` gets the URL once the server listens.

    The diagram (and the kernels' warm-up) is computed in a background thread started here, so
    the page is served at once and shows the progress.
    """
    ctx = Context(diagram=diagram, base=base, save_dir=Path(save_dir).resolve(), runner=Runner())
    sockets, port = listen(host, port)
    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
    app = BokehTornado({"/": Application(FunctionHandler(partial(make_document, ctx=ctx)))},
                       extra_websocket_origins=origins)
    http = HTTPServer(app)
    http.add_sockets(sockets)
    loop = IOLoop.current()
    server = BaseServer(loop, app, http)
    server.start()
    diagram.start()
    aio = loop.asyncio_loop
    for sig in (signal.SIGINT, signal.SIGTERM):
        aio.add_signal_handler(sig, loop.stop)
    echo(f"eosdyn explore: http://{host}:{port}/  (Ctrl-C to stop)")
    try:
        loop.start()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            aio.remove_signal_handler(sig)
        diagram.stop()
        server.stop(wait=False)
        server.unlisten()
