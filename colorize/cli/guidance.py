"""The colorize scripts' user-guidance options: --hint, --hints, --reference (for models that take hints).

    --hint X,Y,COLOUR    a colour point (repeatable): X, Y pixels of the photo, origin
                         top-left; COLOUR #rrggbb, rgb(r,g,b) or a CSS colour name
    --hints FILE.json    [{"x": 120, "y": 80, "color": "#c03030"}, ...], the same points
    --reference PHOTO    a colour photo whose colours guide the whole result

Every problem (a model without hint inputs, a point outside the photo, a bad
colour, bad JSON, an unreadable reference) is one line and exit status 2
before anything is written (:func:`resolve_guidance`).
"""

from pathlib import Path

from colorize.errors import ColorizeError


def add_hint_options(parser):
    """Add --hint, --hints and --reference to a colorize parser."""
    group = parser.add_argument_group("guidance (models that take hints, such as the guided family)")
    group.add_argument(
        "--hint", action="append", default=[], metavar="X,Y,COLOUR",
        help="a colour point: X, Y in pixels of the photo (origin top-left), COLOUR #rrggbb, rgb(r,g,b) or a CSS "
        "colour name; the point gives its colour's a, b (the lightness stays the photo's). Repeatable; for one photo",
    )
    group.add_argument("--hints", metavar="FILE.json", default=None,
                       help='colour points from a JSON file: [{"x": 120, "y": 80, "color": "#c03030"}, ...]; for one photo')
    group.add_argument("--reference", metavar="PHOTO", default=None,
                       help="a colour photo whose colour distribution guides the whole result")


def resolve_guidance(args, colorizer, jobs):
    """The Guidance the options ask for (None when none), checked against the model and the photos.

    ``jobs``: [(input path, relative name)]. Raises ColorizeError(what, reason) for every problem.
    """
    from colorize.hints import Guidance, check_points, parse_point, points_from_json, reference_vector

    points = []
    for text in args.hint:
        try:
            points.append(parse_point(text))
        except ValueError as error:
            raise ColorizeError("--hint", str(error)) from None
    if args.hints:
        path = Path(args.hints)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ColorizeError(path, f"cannot read the hints file ({type(error).__name__})") from None
        try:
            points += points_from_json(text)
        except ValueError as error:
            raise ColorizeError(path, str(error)) from None
    reference = None
    if args.reference:
        from colorize.io import read_image

        reference = reference_vector(read_image(args.reference))  # ColorizeError(path, reason) when unreadable
    guidance = Guidance(points=tuple(points), reference=reference)
    if not guidance:
        return None
    if not getattr(colorizer, "hint_inputs", ()):
        raise ColorizeError("--hint/--hints/--reference", f"this {colorizer.family} model takes no hints "
                            "(use a guided model, e.g. --model guided)")
    if points:
        if len(jobs) != 1:
            raise ColorizeError("--hint/--hints", f"colour points are for one photo, got {len(jobs)} inputs")
        from colorize.io import read_image

        image = read_image(jobs[0][0])
        try:
            check_points(points, *image.shape[:2])
        except ValueError as error:
            raise ColorizeError(jobs[0][0], str(error)) from None
    return guidance
