#!/usr/bin/env python
"""The app in a real browser: start `charrnn-tui serve`, open it in headless Chromium (the
system's, e.g. Debian's `chromium` package, driven by Playwright; never a browser
download), type a seed, generate, and save screenshots of the Playground before and after.

Passes (exit 0) when the text on screen changed: the seed and generated characters came
through the page's websocket, and the two screenshots differ. Where there is no Chromium
or no Playwright it exits 77 with the reason (the test suite then skips, saying why).

    python scripts/browser_check.py [--out DIR] [--chromium PATH] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

SKIP = 77  # "skipped", as automake's test drivers read it
SEED = "ROMEO: "
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
DIFF_JS = """async ([a, b]) => {
  const load = src => new Promise((ok, bad) => {
    const img = new Image(); img.onload = () => ok(img); img.onerror = bad; img.src = src; });
  const [x, y] = await Promise.all([load(a), load(b)]);
  const canvas = document.createElement("canvas");
  canvas.width = x.width; canvas.height = x.height;
  const g = canvas.getContext("2d");
  const pixels = img => { g.clearRect(0, 0, x.width, x.height); g.drawImage(img, 0, 0);
                          return g.getImageData(0, 0, x.width, x.height).data; };
  const p = pixels(x), q = pixels(y);
  let changed = 0;
  for (let i = 0; i < p.length; i += 4)
    if (p[i] !== q[i] || p[i + 1] !== q[i + 1] || p[i + 2] !== q[i + 2]) changed++;
  return changed / (p.length / 4);
}"""


def chromium_path(given: str | None) -> str | None:
    return given or os.environ.get("CHARRNN_TUI_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


def why_not(chromium: str | None) -> str | None:
    """Why this machine cannot run the check, or None."""
    if chromium is None or not Path(chromium).exists():
        return "no Chromium found (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright; no `playwright install`)"
    return None


class Server:
    """`charrnn-tui serve --port 0` on throwaway folders, in its own process group."""

    def __init__(self, folder: Path, timeout: float) -> None:
        env = {**os.environ, "CHARRNN_TUI_HOME": str(folder / "home"),
               "CHARRNN_TUI_CONFIG": str(folder / "config")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "charrnn_tui", "serve", "--port", "0", "--root",
             str(folder / "root"), "--max-sessions", "1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and self.proc.poll() is None:
            line = self.proc.stdout.readline()  # the first line says where it listens
            if line:
                break
        match = re.search(r"(http://\S+?)/\s", line)
        if not match:
            self.stop()
            raise SystemExit(f"browser_check: serve did not start: {line!r}")
        self.url = match[1] + "/"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # ends the app as its Quit key does
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


def check(out: Path, chromium: str, timeout: float) -> list[str]:
    """Run the check; the list of what failed (empty: passed)."""
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    received = bytearray()
    with tempfile.TemporaryDirectory(prefix="charrnn-browser-") as tmp:
        server = Server(Path(tmp), timeout)
        host = urlsplit(server.url).netloc
        elsewhere: list[str] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True,
                                            args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.on("request", lambda r: None if urlsplit(r.url).netloc == host
                        or r.url.startswith(("data:", "blob:")) else elsewhere.append(r.url))
                page.on("websocket", lambda ws: ws.on(
                    "framereceived", lambda data: received.extend(
                        data if isinstance(data, bytes) else b"")))

                def shown() -> str:
                    return ANSI.sub("", received.decode("utf-8", "replace"))

                def wait(what: str, condition) -> bool:
                    deadline = time.monotonic() + timeout
                    while not condition():
                        if time.monotonic() > deadline:
                            failures.append(f"timed out waiting for {what}")
                            return False
                        page.wait_for_timeout(250)
                    return True

                page.goto(server.url)
                if not wait("the Playground", lambda: "Type a seed" in shown()):
                    page.screenshot(path=out / "timeout.png")
                    return failures
                page.wait_for_function("document.body.classList.contains('-first-byte')",
                                       timeout=timeout * 1000)
                page.wait_for_timeout(1500)  # let the first frames settle
                page.screenshot(path=out / "before.png")
                mark = len(shown())
                page.focus(".xterm-helper-textarea")
                page.keyboard.type(SEED, delay=50)
                page.keyboard.press("Enter")
                after = lambda: shown()[mark:]  # noqa: E731
                wait("the seed to show", lambda: SEED.strip() in after())
                wait("generated text", lambda: len(re.sub(r"\s", "", after())) > 400)
                page.wait_for_timeout(3000)
                page.screenshot(path=out / "after.png")
                images = ["data:image/png;base64,"
                          + base64.b64encode((out / name).read_bytes()).decode()
                          for name in ("before.png", "after.png")]
                changed = page.evaluate(DIFF_JS, images)
                print(f"browser_check: {changed:.1%} of the pixels changed; "
                      f"{len(received):,} bytes of screen updates arrived")
                if changed < 0.005:
                    failures.append(f"the screenshots barely differ ({changed:.2%})")
                browser.close()
        finally:
            server.stop()
        if elsewhere:
            failures.append(f"the page loaded from other hosts: {elsewhere[:5]}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("browser-check"),
                        help="folder for before.png and after.png (default: ./browser-check)")
    parser.add_argument("--chromium", help="the browser binary (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds for each wait (default: 180)")
    args = parser.parse_args()
    chromium = chromium_path(args.chromium)
    reason = why_not(chromium)
    if reason:
        print(f"browser_check: skipped: {reason}")
        return SKIP
    args.out.mkdir(parents=True, exist_ok=True)
    failures = check(args.out, chromium, args.timeout)
    for failure in failures:
        print(f"browser_check: FAILED: {failure}")
    if not failures:
        print(f"browser_check: passed; screenshots in {args.out}/before.png and after.png")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
