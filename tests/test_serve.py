"""colorize serve: the HTTP API's answers (every error included) and the page in a real browser."""

import io
import json
import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REPO, synthetic_photo

pytest.importorskip("flask")

STATIC = REPO / "colorize" / "serve" / "static"


class FakeNetwork:
    """A network of the guided kind without Keras: ab at 1/4 = the hint map's ab there (0 without points)."""

    def __init__(self, delay=0.0):
        self.delay = delay

    def __call__(self, batch, training=False):
        time.sleep(self.delay)
        if not isinstance(batch, list):  # a model without hint inputs: gray
            return np.zeros((len(batch), batch.shape[1] // 4, batch.shape[2] // 4, 2), np.float32)
        lightness, hints, reference = batch
        ab = hints[:, ::4, ::4, :2] * hints[:, ::4, ::4, 2:]
        return ab + reference[:, None, None, :1] * 0  # the reference is taken, and changes nothing here

    predict_on_batch = __call__


class FakeColorizer:
    """What the server needs of a colorizer (the LiteColorizer/Colorizer duck type)."""

    family, head, input_multiple, output_stride, training_size, temperature = "fake", "regression", 32, 4, 64, None

    def __init__(self, hint_inputs=("hints", "reference"), delay=0.0):
        self.hint_inputs = hint_inputs
        self.network = FakeNetwork(delay)

    def decode(self, raw, temperature=None):
        return np.asarray(raw, np.float32)


def png_bytes(rgb):
    return cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def decode_png(data):
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture
def client():
    from colorize.serve.app import create_app

    return create_app(FakeColorizer(), max_upload_bytes=2 << 20).test_client()


def post(client, image=None, hints=None, reference=None, **extra):
    data = dict(extra)
    if image is not None:
        data["image"] = (io.BytesIO(image), "photo.png")
    if hints is not None:
        data["hints"] = hints
    if reference is not None:
        data["reference"] = (io.BytesIO(reference), "reference.png")
    return client.post("/api/colorize", data=data, content_type="multipart/form-data")


GRAY = np.full((120, 160, 3), 128, np.uint8)


def test_page_and_assets_are_served_from_the_package_with_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and b"/static/app.js" in page.data
    for name in ("app.js", "style.css", "index.html"):
        assert client.get(f"/static/{name}").status_code == 200
        text = (STATIC / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text  # works offline
    assert client.get("/api/model").get_json() == {"family": "fake", "takes_hints": True, "training_size": 64}


def test_a_photo_comes_back_as_a_png_at_full_resolution_with_its_points(client):
    answer = post(client, png_bytes(GRAY), hints=json.dumps([{"x": 20, "y": 30, "color": "#d02020"},
                                                               {"x": 140, "y": 90, "color": "blue"}]),
                  reference=png_bytes(synthetic_photo(40, 40)))
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    result = decode_png(answer.data)
    assert result.shape == GRAY.shape
    assert result[30, 20, 0] > result[30, 20, 2] + 40  # red where the red point is
    assert result[90, 140, 2] > result[90, 140, 0] + 40  # blue at the blue one
    plain = decode_png(post(client, png_bytes(GRAY)).data)
    assert np.abs(plain.astype(int) - 128).max() <= 1  # no points: the fake stays gray


@pytest.mark.parametrize("case, status, words", [
    ("text file as image", 400, "image: not an image"),
    ("empty upload", 400, "image: empty upload"),
    ("missing field", 400, "missing field 'image'"),
    ("image as text", 400, "must be a file"),
    ("bad hints JSON", 400, "hints: bad hints JSON"),
    ("hints not a list", 400, "expected a list"),
    ("bad colour", 400, "bad colour"),
    ("point outside", 400, "outside the 160x120 photo"),
    ("bad reference", 400, "reference:"),
    ("too small image", 400, "image:"),
    ("too large upload", 413, "upload too large"),
])
def test_bad_requests_get_a_4xx_and_one_json_line(client, case, status, words):
    good = png_bytes(GRAY)
    requests = {
        "text file as image": lambda: post(client, b"just some text\n"),
        "empty upload": lambda: post(client, b""),
        "missing field": lambda: post(client, None, hints="[]"),
        "image as text": lambda: client.post("/api/colorize", data={"image": "photo.png"}),
        "bad hints JSON": lambda: post(client, good, hints="[{"),
        "hints not a list": lambda: post(client, good, hints='{"x": 1}'),
        "bad colour": lambda: post(client, good, hints='[{"x": 1, "y": 1, "color": "#12345"}]'),
        "point outside": lambda: post(client, good, hints='[{"x": 160, "y": 1, "color": "red"}]'),
        "bad reference": lambda: post(client, good, reference=b"GIF89a broken"),
        "too small image": lambda: post(client, png_bytes(np.zeros((4, 4, 3), np.uint8))),
        "too large upload": lambda: post(client, good + b"\0" * (3 << 20)),
    }
    answer = requests[case]()
    assert answer.status_code == status, answer.data
    assert answer.mimetype == "application/json"
    reason = answer.get_json()["error"]
    assert words in reason and "\n" not in reason
    assert post(client, good).status_code == 200  # and the server goes on serving


def test_wrong_method_unknown_page_and_a_model_without_hints(client):
    for answer, status in ((client.get("/api/colorize"), 405), (client.put("/api/colorize"), 405),
                           (client.get("/etc/passwd"), 404), (client.get("/static/../app.py"), 404)):
        assert answer.status_code == status and "error" in answer.get_json()
    from colorize.serve.app import create_app

    automatic = create_app(FakeColorizer(hint_inputs=())).test_client()
    assert automatic.get("/api/model").get_json()["takes_hints"] is False
    answer = post(automatic, png_bytes(GRAY), hints='[{"x": 1, "y": 1, "color": "red"}]')
    assert answer.status_code == 400 and "takes no hints" in answer.get_json()["error"]
    assert post(automatic, png_bytes(GRAY)).status_code == 200


@pytest.fixture
def live_server():
    """A real server (werkzeug, threaded) on a free port, with a slow fake model."""
    from colorize.serve.app import make_server

    server = make_server(FakeColorizer(delay=0.2), "127.0.0.1", 0, max_waiting=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", server.server_port
    server.shutdown()
    thread.join(5)


def _raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        chunks = []
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _multipart(image):
    boundary = "XyZ123"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_live_server_survives_a_huge_header_and_many_tabs_at_once(live_server):
    import urllib.error
    import urllib.request

    url, port = live_server
    answer = _raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] in (b"400", b"431") and b"json" in head.lower()
    assert "error" in json.loads(body)
    body, content_type = _multipart(png_bytes(GRAY))

    def send(results):
        request = urllib.request.Request(url + "/api/colorize", data=body, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                results.append(response.status)
        except urllib.error.HTTPError as error:
            results.append(error.code)
            assert "error" in json.loads(error.read())

    results = []
    threads = [threading.Thread(target=send, args=(results,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 8 and set(results) <= {200, 503} and 200 in results, results
    assert 503 in results  # at most 2 wait behind the one running: the rest are told at once
    after = []
    send(after)
    assert after == [200]


def test_serve_command_refuses_a_bad_model_and_a_taken_port(tmp_path, capsys):
    from colorize.cli.colorize import main

    assert main(["serve", "--model", str(tmp_path / "missing.keras")]) == 2
    assert "model file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--port", "70000"])


# ------------------------------------------------------------------ a real browser
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow
def test_the_page_in_a_real_browser(tmp_path):
    """Load the page, upload a photo, place two points of different colours, wait for the result,
    check the downloaded full-resolution PNG has those colours there; screenshot for the README."""
    webdriver = pytest.importorskip("selenium.webdriver")
    browser, driver_path = _chromium(), shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("no chromium / chromedriver (apt-get install chromium chromium-driver)")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from conftest import make_tiny_colorizer, save_rgb

    from colorize.serve.app import make_server

    from colorize.io import read_image
    from colorize.models.presets import bundled_model, samples_folder
    from colorize.predict.engine import open_colorizer

    if bundled_model("guided").exists():  # what a user gets from `colorize serve`
        colorizer, _ = open_colorizer("guided")
    else:  # an untrained tiny one: its points hold by anchoring alone
        colorizer = make_tiny_colorizer("guided", training_size=64)
    server = make_server(colorizer, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sample = cv2.resize(read_image(Path(samples_folder()) / "chelsea.jpg"), (320, 240), interpolation=cv2.INTER_AREA)
    photo = save_rgb(tmp_path / "photo.png", np.repeat(cv2.cvtColor(sample, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,800"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        status = driver.find_element(By.ID, "status")
        driver.find_element(By.ID, "photo-input").send_keys(str(photo))
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: status.get_attribute("data-results") == "1")
        after = driver.find_element(By.ID, "after")
        scale = after.size["width"] / 320
        wanted = {(70, 60): "#d02020", (250, 180): "#2040e0"}
        for count, ((x, y), colour) in enumerate(wanted.items(), start=2):
            driver.execute_script("const c = document.getElementById('colour'); c.value = arguments[0];", colour)
            ActionChains(driver).move_to_element_with_offset(
                after, int((x + 0.5) * scale - after.size["width"] / 2), int((y + 0.5) * scale - after.size["height"] / 2)
            ).click().perform()
            wait.until(lambda d, n=count: status.get_attribute("data-results") == str(n))
        assert status.get_attribute("data-state") == "done"
        points = json.loads(driver.execute_script("return window.colorizePage.hintsJson()"))
        assert [p["color"] for p in points] == list(wanted.values())
        for point, (x, y) in zip(points, wanted):
            assert abs(point["x"] - x) <= 1 and abs(point["y"] - y) <= 1
        driver.find_element(By.ID, "slider").send_keys("\ue014" * 12)  # arrow right: show some of the "before"
        driver.save_screenshot(str(tmp_path / "page.png"))
        driver.find_element(By.ID, "download").click()
        deadline = time.time() + 30
        while not list(downloads.glob("*.png")) and time.time() < deadline:
            time.sleep(0.2)
        downloaded = list(downloads.glob("*.png"))
        assert downloaded, "the PNG was not downloaded"
        # A reference photo, then deleting a point (double-click): each change brings a new result.
        reference = save_rgb(tmp_path / "reference.png", synthetic_photo(120, 160, seed=7))
        driver.find_element(By.ID, "reference-input").send_keys(str(reference))
        wait.until(lambda d: status.get_attribute("data-results") == "4")
        assert "and a reference" in status.text and driver.find_element(By.ID, "reference-box").is_displayed()
        ActionChains(driver).double_click(driver.find_elements(By.CSS_SELECTOR, ".point")[0]).perform()
        wait.until(lambda d: status.get_attribute("data-results") == "5")
        assert len(json.loads(driver.execute_script("return window.colorizePage.hintsJson()"))) == 1
        assert status.get_attribute("data-state") == "done"
    finally:
        driver.quit()
        server.shutdown()
    from colorize.color import rgb_to_lab
    from colorize.io import read_image

    result = read_image(downloaded[0])
    assert result.shape == (240, 320, 3)
    lab = rgb_to_lab(result)
    for point in points:
        asked = rgb_to_lab(np.array([[list(int(point["color"][i:i + 2], 16) for i in (1, 3, 5))]], np.uint8))[0, 0]
        there = lab[point["y"], point["x"]]
        assert np.hypot(*(there[1:] - asked[1:])) < 25, (point, there, asked)
    target = Path(__import__("os").environ.get("COLORIZE_SCREENSHOT", ""))
    if target.name:
        shutil.copy(tmp_path / "page.png", target)


def test_colorize_serve_prints_its_address_and_warns_off_loopback():
    """The console command end to end: `colorize serve` starts, prints where it listens, answers, stops."""
    import subprocess
    import sys
    import urllib.request

    for host, warned in (("127.0.0.1", False), ("0.0.0.0", True)):
        process = subprocess.Popen([sys.executable, "-c", "import sys; from colorize.cli.colorize import main; "
                                    "sys.exit(main(sys.argv[1:]))", "serve", "--host", host, "--port", "0"],
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline()
            assert line.startswith(f"colorize serve: http://{host}:"), line
            port = int(__import__("re").search(r"http://[^/]+:(\d+)/", line).group(1))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/model", timeout=30) as answer:
                model = json.loads(answer.read())
            assert model["takes_hints"] is (Path(REPO / "colorize/assets/models/guided.keras").exists())
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
        assert ("warning: listening on 0.0.0.0" in err) is warned, err
