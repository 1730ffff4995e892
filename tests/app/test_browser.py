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

import polars as pl
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


def wait_until(check, what: str, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout}s")


def test_the_guard_page_moves_and_saves_the_threshold_and_the_night_and_api_follow(browser, copy_scored_home, night, tmp_path):
    """A product manager on the Guard page moves the threshold five steps up, types their name and saves it; the
    warehouse holds the choice, the next night's at-risk flags and counts follow it, and so do the API's at_risk flag
    (POST /v1/predict) and its at-risk list (GET /v1/users/{id}/at-risk) of that night."""
    import asyncio
    import datetime as dt

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from skipify.api import Service
    from skipify.nightly import run_night
    from tests.scored import SCORED_SETTINGS, read

    home = copy_scored_home("guard_browser")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    port = free_port()
    cmd = [str(BIN / "skipify"), "app", "--port", str(port)]
    with running(cmd, {**os.environ, "SKIPIFY_HOME": str(home)}, f"http://127.0.0.1:{port}/_stcore/health", expect=b"ok"):
        browser.get(f"http://127.0.0.1:{port}/?page=guard")
        wait_for_page(browser, "Guard")
        thumb = browser.find_element(By.CSS_SELECTOR, "[data-testid=stSlider] input[type=range]")  # the thumb's, hidden
        start = float(thumb.get_attribute("value"))  # the step nearest the threshold in force
        browser.execute_script("arguments[0].focus()", thumb)
        for _ in range(5):  # five steps of 0.01 up, by the keyboard as a person would
            ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
        target = f"{start + 0.05:.2f}"
        wait_until(lambda: metrics(browser).get("Threshold") == target, f"the threshold shown moving to {target}")
        name = browser.find_element(By.CSS_SELECTOR, "[data-testid=stTextInput] input")
        name.send_keys("Grace (product)", Keys.ENTER)
        save = wait_until(lambda: next((b for b in browser.find_elements(By.CSS_SELECTOR, "button")
                                        if b.text == f"Use {target} from now on" and b.is_enabled()), None), "the save button")
        save.click()
        wait_until(lambda: any("In force from now on" in a.text for a in browser.find_elements(By.CSS_SELECTOR, "[data-testid=stAlert]")),
                   "the saved message")
        browser.get(f"http://127.0.0.1:{port}/?page=guard")  # the page again: the new threshold in force
        wait_for_page(browser, "Guard")
        assert metrics(browser)["Threshold"] == target and "Grace (product)" in browser.find_element(By.TAG_NAME, "body").text
        shots = Path(os.environ.get("SKIPIFY_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(shots / "app_guard.png"))
    chosen = read(cfg, "SELECT threshold, chosen_by FROM ops.guard_thresholds")
    assert chosen.rows() == [(float(target), "Grace (product)")]
    t = float(target)

    after = night + dt.timedelta(days=1)
    run_night(after, cfg)
    scores = read(cfg, "SELECT user_id, track_id, p_dislike, at_risk FROM scores.dislike_scores WHERE run_date = $d", {"d": after})
    assert scores["at_risk"].to_list() == (scores["p_dislike"] >= t).to_list() and 0 < scores["at_risk"].sum() < scores.height
    counts = read(cfg, "SELECT user_id, sum(n_at_risk) AS n FROM scores.user_risk WHERE run_date = $d GROUP BY user_id", {"d": after})
    expected = scores.filter(pl.col("at_risk")).group_by("user_id").len()
    assert dict(counts.filter(pl.col("n") > 0).rows()) == dict(expected.rows())

    service = Service(cfg)
    assert service.served.risk.threshold == t and service.served.marks.night == after
    user = expected.sort("len", "user_id", descending=[True, False])["user_id"][0]
    listed = asyncio.run(service.at_risk(user, None))
    assert listed["n_at_risk"] == expected.filter(pl.col("user_id") == user)["len"][0]
    assert all(row["p_dislike"] >= t for row in listed["tracks"])
    mine = scores.filter(pl.col("user_id") == user)
    answer = service.predict([{"user_id": u, "track_id": k} for u, k in mine.select("user_id", "track_id").iter_rows()])
    assert answer["risk_threshold"] == t
    assert [p["at_risk"] for p in answer["predictions"]] == [p["p_dislike"] >= t for p in answer["predictions"]]
    assert any(p["at_risk"] for p in answer["predictions"])
