"""The page in a real browser: the installed `semhash serve` as a separate process, Debian's
Chromium driven by Selenium through /usr/bin/chromedriver (nothing is downloaded).

Without Chromium the test skips with the reason (`make browser` installs it); with
SEMHASH_REQUIRE_BROWSER=1 (CI) that is a failure instead. SEMHASH_SCREENSHOT=path also
copies the screenshot there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from semantic_hashing.query import api

from .conftest import free_port

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1440,1000")  # fmt: skip


def _no_browser(reason: str) -> None:
    reason = f"no browser for the page test: {reason}"
    if os.environ.get("SEMHASH_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def semhash_exe() -> str:
    exe = Path(sys.executable).parent / "semhash"
    return str(exe) if exe.exists() else shutil.which("semhash") or "semhash"


@pytest.fixture
def server(collection, tmp_path):
    """`semhash serve` on a free loopback port; its URL while it runs."""
    port = free_port()
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([semhash_exe(), "serve", str(collection), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "api/collections", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail(f"semhash serve did not start: {log.read()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        _no_browser(f"{CHROMIUM} or {CHROMEDRIVER} is missing (make browser)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        _no_browser(f"{exc} (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def unique_item(collection) -> tuple[int, str]:
    """An item no other item shares a code with, so that 'first' is well defined."""
    with api.open(collection) as coll:
        for i in range(len(coll)):
            same = coll.search(id=i, radius=0, k=None).results
            if [h.id for h in same] == [i]:
                return i, coll.item(i)["path"]
    pytest.fail("every item of the test collection shares its code with another")


def test_page_in_a_real_browser(server, browser, collection, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)

    def cards(grid="grid"):
        """(id, distance, text, thumbnail loaded) of each card, read in one step."""
        return browser.execute_script(
            "return [...document.querySelectorAll(`#${arguments[0]} .card`)].map(c => ["
            "Number(c.dataset.id), c.dataset.distance, c.innerText,"
            "(c.querySelector('img') || {}).naturalWidth > 0]);", grid)  # fmt: skip

    def first(grid="grid"):
        found = cards(grid)
        return tuple(found[0][:2]) if found else None

    qid, qpath = unique_item(collection)
    browser.get(server)
    assert "tiny" in browser.title
    browser.find_element(By.ID, "file").send_keys(qpath)  # "drop" a query image
    wait.until(lambda d: len(cards()) == 10)
    assert first() == (qid, "0"), "the query's own item comes first, at distance 0"
    assert "(uploaded)" in browser.find_element(By.ID, "query-name").text

    other_id = next(c[0] for c in cards() if c[0] != qid)
    browser.find_element(By.CSS_SELECTOR, f'#grid .card[data-id="{other_id}"]').click()
    wait.until(lambda d: first() is not None and first()[0] != qid)  # searched by that result
    assert other_id in [c[0] for c in cards()] and first()[1] == "0"
    assert browser.find_element(By.ID, "baseline-col").is_displayed() is False

    browser.find_element(By.ID, "baseline").click()  # the raw-pixel baseline beside it
    wait.until(lambda d: d.find_element(By.ID, "baseline-col").is_displayed()
               and len(cards("baseline-grid")) == 10)  # fmt: skip
    assert first("baseline-grid") == (other_id, "0")  # L2 to itself is 0
    assert "L2" in cards("baseline-grid")[1][2]
    wait.until(lambda d: all(c[3] for c in cards() + cards("baseline-grid")))  # thumbnails
    shot = tmp_path / "serve-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("SEMHASH_SCREENSHOT"):
        shutil.copy(shot, os.environ["SEMHASH_SCREENSHOT"])

    browser.execute_script(  # the radius slider at 0: only exact code matches
        "const r = document.getElementById('radius'); r.value = 0;"
        "r.dispatchEvent(new Event('input'));"
    )
    wait.until(lambda d: "within radius 0" in d.find_element(By.ID, "status").text)
    assert cards() and all(c[1] == "0" for c in cards())

    browser.execute_script(  # back to top-k, then the finer ranking: the API's answer
        "const r = document.getElementById('radius'); r.value = -1;"
        "r.dispatchEvent(new Event('input'));"
    )
    browser.find_element(By.ID, "asymmetric").click()
    with api.open(collection) as coll:
        want = [h.id for h in coll.search(id=other_id, k=10, asymmetric=True).results]
    wait.until(lambda d: "asymmetric" in d.find_element(By.ID, "codes-title").text.lower()
               and [c[0] for c in cards()] == want)  # fmt: skip
    assert all(c[2].startswith("asym ") for c in cards())
    assert not browser.find_element(By.ID, "error").is_displayed()
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
