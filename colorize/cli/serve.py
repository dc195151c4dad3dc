"""``colorize serve``: the local web page for colorizing with colour points and a reference photo.

Starts a local HTTP server (Flask's app on werkzeug's threaded server,
:mod:`colorize.serve.app`) and prints its address. Binds 127.0.0.1 unless
``--host`` says otherwise (then with a warning: anyone who can reach that
address can use it). Exit status 2 for a bad option, an unusable model or a
port that cannot be bound; 0 after Ctrl+C.
"""

import argparse
import ipaddress
import sys

from colorize.cli.common import whole_number_between
from colorize.cli.helpformat import HelpFormatter
from colorize.errors import ColorizeError, one_line

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def build_serve_parser():
    from colorize.predict.engine import ENGINES

    parser = argparse.ArgumentParser(
        prog="colorize serve", formatter_class=HelpFormatter,
        description="Serve a local web page: drop a photo, place colour points, drop a reference photo, compare "
        "before/after and download the full-resolution PNG. Also an HTTP API: POST /api/colorize (multipart: image, "
        "hints JSON, reference) -> image/png.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (anything but a loopback address "
                        "exposes the page to the network: a warning is printed)")
    parser.add_argument("--port", type=whole_number_between(0, 65535), default=DEFAULT_PORT, help="port (0: any free one)")
    parser.add_argument("--model", "-m", default=None, metavar="FILE",
                        help=f"a saved colorizer (default: the bundled {_default_model()} model); a guided-family model "
                        "takes colour points and a reference, others colorize automatically only")
    parser.add_argument("--engine", choices=ENGINES, default="auto", help="what runs the model (as for colorize)")
    return parser


def _default_model():
    """The bundled guided model (points and a reference), or the default where a checkout lacks it."""
    from colorize.models.presets import DEFAULT_MODEL, SERVE_MODEL, bundled_model

    return SERVE_MODEL if bundled_model(SERVE_MODEL).exists() else DEFAULT_MODEL


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(argv=None):
    """``colorize serve [--host H] [--port P] [--model M]``. Returns the exit status (blocks while serving)."""
    from colorize.predict.engine import open_colorizer
    from colorize.serve.app import make_server

    parser = build_serve_parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        colorizer, path = open_colorizer(args.model or _default_model(), args.engine)
    except ColorizeError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    try:
        server = make_server(colorizer, args.host, args.port)
    except (OSError, SystemExit) as error:  # werkzeug exits when the port is taken
        print(f"{prog}: error: cannot listen on {args.host}:{args.port} ({one_line(error)})", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(f"{prog}: warning: listening on {args.host}, not only this computer: anyone who can reach it can "
              "use this page", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    hints = "colour points and a reference" if getattr(colorizer, "hint_inputs", ()) else "automatic only, no hints"
    print(f"colorize serve: http://{shown}:{server.server_port}/  (model {path.name}, {colorizer.family}: {hints}; "
          "Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv=None):
    """``python -m colorize.cli.serve``, the same as ``colorize serve``."""
    return serve_command(argv)


if __name__ == "__main__":
    sys.exit(main())
