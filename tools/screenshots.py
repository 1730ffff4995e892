"""The README's pictures of the app: `skipify app` on the warehouse of the configuration (after `make demo`: the demo
world), every page opened in headless Chromium (Debian's chromium and chromium-driver), saved to docs/img/.

    $ make screenshots            # .venv/bin/python tools/screenshots.py [--out docs/img] [--pages tonight guard]

Each page is waited for until Streamlit has finished running it and its charts have drawn; the picture is of the
top of the page at 1500 x 1100.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

PAGES = ("tonight", "listener", "why", "scorecard", "guard")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, running  # noqa: E402 - the servers the tests and the benchmarks start


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
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        opts.add_argument(arg)
    cmd = [str(Path(sys.executable).parent / "skipify"), "app", "--port", str(port)]
    with running(cmd, dict(os.environ), f"{url}/_stcore/health", expect=b"ok"):
        browser = webdriver.Chrome(service=Service(driver), options=opts)
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            for page in args.pages:
                t0 = time.perf_counter()
                browser.get(f"{url}/?page={page}")
                heading = wait_for_page(browser)
                path = args.out / f"app_{page}.png"
                browser.save_screenshot(str(path))
                print(f"{path}: {heading!r} ({path.stat().st_size:,} bytes, {time.perf_counter() - t0:.1f}s)")
        finally:
            browser.quit()

if __name__ == "__main__":
    main()
