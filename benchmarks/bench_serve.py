"""Response time of ``colorize serve`` for a 1-megapixel photo: POST /api/colorize over real HTTP, after start-up.

    python benchmarks/bench_serve.py [--model gan] [--engine auto] [--repeat 7] [--points 0]

Starts the server in-process on a free port (werkzeug, threaded, as ``colorize serve``), posts one
warm-up request, then times ``--repeat`` requests of a 1155x866 JPEG (a bundled sample, resized) and
prints the median, min and max wall time of the whole round trip (upload, decode, network, compose,
PNG encode, download).
"""

import argparse
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    import cv2
    import numpy as np

    from colorize.io import read_image
    from colorize.models.presets import samples_folder
    from colorize.predict.engine import open_colorizer
    from colorize.serve.app import make_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gan")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--points", type=int, default=0, help="colour points sent with each request (guided models)")
    args = parser.parse_args()

    start = time.perf_counter()
    colorizer, path = open_colorizer(args.model, args.engine)
    print(f"model {path.name} ({type(colorizer).__name__}) loaded in {time.perf_counter() - start:.2f} s")
    sample = sorted(p for p in Path(samples_folder()).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[0]
    photo = cv2.resize(read_image(sample), (1155, 866), interpolation=cv2.INTER_CUBIC)
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    rng = np.random.default_rng(0)
    hints = "[" + ",".join(f'{{"x": {int(x)}, "y": {int(y)}, "color": "#c03030"}}'
                           for x, y in zip(rng.integers(0, 1155, args.points), rng.integers(0, 866, args.points))) + "]"
    boundary = "bench"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + jpeg + b"\r\n"
    if args.points:
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"hints\"\r\n\r\n{hints}\r\n".encode()
    body += f"--{boundary}--\r\n".encode()
    server = make_server(colorizer, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/colorize"

    def once():
        request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            data = response.read()
        return time.perf_counter() - began, len(data)

    first, size = once()
    print(f"first request (warm-up): {first:.2f} s, PNG {size / 1e6:.1f} MB")
    times = [once()[0] for _ in range(args.repeat)]
    print(f"1155x866 (1.0 MP) JPEG, {args.points} points: median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f}, max {max(times):.2f} over {args.repeat} requests")
    server.shutdown()


if __name__ == "__main__":
    main()
