"""The local web page's server: a Flask app around one loaded colorizer.

    GET  /                 the page (colorize/serve/static/: HTML, JS, CSS; no CDN)
    GET  /api/model        {"family", "takes_hints", "training_size"}: what the page may offer
    POST /api/colorize     multipart: image (required), hints (JSON text, optional),
                           reference (file, optional) -> 200 image/png at full resolution
    errors                 4xx (5xx for a failure of ours) with {"error": "one line"}

Safety: uploads are at most ``max_upload_bytes`` in all (413) and images at
most the command lines' pixel limit; uploads are decoded from memory and
nothing is written to disk; the client never names a path. The model runs
one request at a time (a lock: the LiteRT interpreter is not thread-safe);
at most ``max_waiting`` requests wait for it, more get 503 at once, so many
tabs posting together neither crash the server nor pile up without bound.
"""

import threading
from importlib import resources

from colorize.errors import ColorizeError, one_line

MAX_UPLOAD_BYTES = 64 << 20  # image + reference + hints
MAX_WAITING = 8
MAX_HINTS_CHARS = 200_000


class BadRequest(Exception):
    """A request the page or a script got wrong: 400 (or ``status``) with a one-line reason."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason, self.status = reason, status


def _static_folder():
    return str(resources.files("colorize").joinpath("serve", "static"))


def create_app(colorizer, max_upload_bytes=MAX_UPLOAD_BYTES, max_waiting=MAX_WAITING):
    """The Flask app serving ``colorizer`` (a loaded Colorizer or LiteColorizer)."""
    from flask import Flask, Response, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_upload_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_HINTS_CHARS
    static = _static_folder()
    model_lock = threading.Lock()
    waiting = threading.BoundedSemaphore(max_waiting + 1)

    def error(reason, status):
        response = jsonify(error=reason)
        response.status_code = status
        return response

    @app.errorhandler(HTTPException)
    def http_error(exception):
        reason = {413: f"upload too large (at most {max_upload_bytes >> 20} MiB)",
                  404: "no such page", 405: f"method {request.method} not allowed here"}.get(exception.code)
        return error(reason or one_line(exception.description or exception.name), exception.code)

    @app.errorhandler(BadRequest)
    def bad_request(exception):
        return error(exception.reason, exception.status)

    @app.errorhandler(Exception)
    def failure(exception):  # a failure of ours: one line, and the server keeps serving
        return error(f"internal error ({one_line(exception)})", 500)

    @app.get("/")
    def page():
        return send_from_directory(static, "index.html")

    @app.get("/static/<name>")
    def asset(name):
        return send_from_directory(static, name)

    @app.get("/api/model")
    def model():
        return jsonify(family=colorizer.family, takes_hints=bool(getattr(colorizer, "hint_inputs", ())),
                       training_size=colorizer.training_size)

    @app.post("/api/colorize")
    def colorize():
        image, guidance = _parse_request(request, colorizer)
        if not waiting.acquire(blocking=False):
            raise BadRequest("busy: too many requests waiting, try again", 503)
        try:
            with model_lock:
                png = _colorize_png(image, colorizer, guidance)
        finally:
            waiting.release()
        return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})

    return app


def _upload(request, field, required):
    """The bytes of the file field ``field`` (None when absent and not required)."""
    if field not in request.files:
        if required:
            raise BadRequest(f"missing field '{field}' (a file)")
        return None
    data = request.files[field].read()
    if not data:
        raise BadRequest(f"{field}: empty upload (0 bytes), not an image")
    return data


def _parse_request(request, colorizer):
    """(uint8 RGB image, Guidance or None) from a POST /api/colorize; BadRequest for anything wrong."""
    from colorize.hints import Guidance, check_points, points_from_json, reference_vector
    from colorize.io import read_image_bytes

    try:
        files = request.files  # parses the form (413 for too large bodies)
    except ValueError as problem:
        raise BadRequest(f"bad form data ({one_line(problem)})") from None
    del files
    if "image" in request.form:
        raise BadRequest("field 'image' must be a file, not text")
    try:
        image = read_image_bytes(_upload(request, "image", True), name="image")
        reference_bytes = _upload(request, "reference", False)
        reference = None if reference_bytes is None else reference_vector(read_image_bytes(reference_bytes, "reference"))
    except ColorizeError as problem:
        raise BadRequest(str(problem)) from None
    points = ()
    text = request.form.get("hints", "")
    if text.strip():
        try:
            points = tuple(points_from_json(text))
            check_points(points, *image.shape[:2])
        except ValueError as problem:
            raise BadRequest(f"hints: {problem}") from None
    guidance = Guidance(points=points, reference=reference)
    if guidance and not getattr(colorizer, "hint_inputs", ()):
        raise BadRequest(f"this {colorizer.family} model takes no hints (colour points or a reference photo)")
    return image, guidance or None


def _colorize_png(image, colorizer, guidance):
    from colorize.io import encode_png
    from colorize.predict.pipeline import colorize_image

    try:
        return encode_png(colorize_image(image, colorizer, guidance=guidance))
    except ValueError as problem:  # colours that are not finite
        raise BadRequest(f"image: {one_line(problem)}", 422) from None


def json_error_handler():
    """A werkzeug request handler class whose own errors (a malformed request line, headers too
    large: 400 / 431, before Flask sees the request) are one-line JSON like the app's."""
    from werkzeug.serving import WSGIRequestHandler

    class JSONErrorHandler(WSGIRequestHandler):
        error_content_type = "application/json"
        error_message_format = '{"error": "%(message)s"}'

        def log_request(self, code="-", size="-"):  # quiet: the terminal shows the address, not every request
            pass

    return JSONErrorHandler


def make_server(colorizer, host, port, **options):
    """A threaded werkzeug server for :func:`create_app` (``port`` 0: any free one); ``.server_port`` says which."""
    from werkzeug.serving import make_server as werkzeug_server

    return werkzeug_server(host, port, create_app(colorizer, **options), threaded=True,
                           request_handler=json_error_handler())
