"""The README's pictures of the app: `skipify app` on the warehouse of the configuration (after `make demo`: the demo
world), every page opened in headless Chromium (Debian's chromium and chromium-driver), saved to docs/img/.

    $ make screenshots            # .venv/bin/python tools/screenshots.py [--out docs/img] [--pages tonight guard]

Each page is waited for until Streamlit has finished running it and its charts have drawn; the picture is of the
top of the page at 1500 x 1100.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PAGES = ("tonight", "listener", "why", "scorecard", "guard")
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_served(url: str, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit(f"skipify app exited with {proc.returncode}")
        time.sleep(0.3)
    sys.exit(f"skipify app did not answer within {timeout_s}s")


def wait_for_page(browser, timeout_s: float = 120) -> str:
    """The page's heading, once the script has run to its end (and a moment for the charts)."""
    from selenium.webdriver.common.by import By

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        done = browser.find_elements(By.CSS_SELECTOR, "[data-testid=stApp][data-test-script-state=notRunning]")
        heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2") if h.text]
        if done and heads:
            time.sleep(2.0)
            return heads[0]
        time.sleep(0.3)
    raise TimeoutError("the page did not finish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=PAGES)
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        sys.exit("chromium and chromium-driver are missing: `make browser` installs them")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "skipify"), "app", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        opts.add_argument(arg)
    browser = None
    try:
        wait_until_served(url, proc)
        browser = webdriver.Chrome(service=Service(driver), options=opts)
        args.out.mkdir(parents=True, exist_ok=True)
        for page in args.pages:
            t0 = time.perf_counter()
            browser.get(f"{url}/?page={page}")
            heading = wait_for_page(browser)
            path = args.out / f"app_{page}.png"
            browser.save_screenshot(str(path))
            print(f"{path}: {heading!r} ({path.stat().st_size:,} bytes, {time.perf_counter() - t0:.1f}s)")
    finally:
        if browser is not None:
            browser.quit()
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
