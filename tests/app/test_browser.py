"""End to end in a real browser: `skipify app` on a free port, headless Chromium (Debian's chromium
and chromium-driver, driven by Selenium) opens every page, checks its heading and one number, and
saves a screenshot (to SKIPIFY_SCREENSHOTS when set: that is how docs/img/ is made)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from skipify.config import load_config
from skipify.warehouse import connect
from tests.servers import free_port, running

pytestmark = pytest.mark.slow  # a Streamlit server driven by Chromium (`make test-fast` leaves it out)

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(app_home):
    port = free_port()
    cmd = [str(BIN / "skipify"), "app", "--port", str(port)]
    with running(cmd, {**os.environ, "SKIPIFY_HOME": str(app_home)}, f"http://127.0.0.1:{port}/_stcore/health", expect=b"ok"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "chromium and chromium-driver are missing: `make test` installs them (apt-get)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        opts.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=opts)
    yield b
    b.quit()


def wait_for_page(browser, heading: str, timeout: float = 60) -> str:
    from selenium.webdriver.common.by import By

    deadline = time.time() + timeout
    while time.time() < deadline:
        apps = browser.find_elements(By.CSS_SELECTOR, "[data-testid=stApp][data-test-script-state=notRunning]")
        heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
        if apps and any(h.startswith(heading) for h in heads):
            time.sleep(1.0)  # charts finish drawing
            return next(h for h in heads if h.startswith(heading))
        time.sleep(0.3)
    raise AssertionError(f"page with heading {heading!r} did not finish; headings seen: {heads}")


def metrics(browser) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    out = {}
    for m in browser.find_elements(By.CSS_SELECTOR, "[data-testid=stMetric]"):
        label = m.find_element(By.CSS_SELECTOR, "[data-testid=stMetricLabel]").text
        out[label] = m.find_element(By.CSS_SELECTOR, "[data-testid=stMetricValue]").text
    return out


def test_every_page_in_a_real_browser(server, browser, app_home, night, tmp_path):
    con = connect(load_config(home=app_home), read_only=True)
    at_risk = con.execute("SELECT sum(at_risk::int) FROM scores.dislike_scores WHERE run_date = $d", {"d": night}).fetchone()[0]
    top_user = con.execute("SELECT user_id, n_candidates FROM scores.user_risk WHERE run_date = $d "
                           "ORDER BY n_at_risk DESC, max_p_dislike DESC, user_id LIMIT 1", {"d": night}).fetchone()
    deep_auc = json.loads(con.execute("SELECT metrics FROM models.registry").fetchone()[0])["summary"]["deep_roc_auc"]
    con.close()
    shots = Path(os.environ.get("SKIPIFY_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    expected = {
        "tonight": ("Tonight's risks", "At-risk pairs", f"{at_risk:,}"),
        "listener": ("Listener view", "Candidates tonight", f"{top_user[1]:,}"),
        "why": ("Why", None, None),
        "scorecard": ("Scorecard", "Deep model ROC AUC", f"{deep_auc:.4f}"),
    }
    for page, (heading, label, value) in expected.items():
        browser.get(f"{server}/?page={page}")
        seen = wait_for_page(browser, heading)
        if page in ("tonight", "listener"):
            assert str(night) in seen
        if label:
            assert metrics(browser).get(label) == value, (page, metrics(browser))
        assert browser.save_screenshot(str(shots / f"app_{page}.png"))
        assert (shots / f"app_{page}.png").stat().st_size > 10_000
