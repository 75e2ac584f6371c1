"""The page in a real browser: the installed `semhash serve` as a separate process, Debian's
Chromium driven by Selenium through /usr/bin/chromedriver (nothing is downloaded). Every
view is visited at its own address, and back, forward and reload are checked to show the
same view; the server's own log is checked too (a half-sent upload: one line).

Without Chromium the browser tests skip with the reason (`make browser` installs it); with
SEMHASH_REQUIRE_BROWSER=1 (CI) that is a failure instead. SEMHASH_SCREENSHOT_DIR=folder
also copies each view's screenshot there (tools/page_screenshots.py makes the docs' ones
on real collections)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.query import api

from .conftest import fast_options, free_port, make_corpus

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


@contextmanager
def serving(paths, log_path: Path, *args):
    """`semhash serve` on a free loopback port; (its URL, its log file) while it runs."""
    port = free_port()
    log = open(log_path, "w+")
    proc = subprocess.Popen([semhash_exe(), "serve", *map(str, paths), "--port", str(port),
                             *args], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                urllib.request.urlopen(url + "api/collections", timeout=2).read()
                break
            except urllib.error.HTTPError:  # it answers (a Host it was not started with)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"semhash serve did not start: {log.read()[-2000:]}")
                time.sleep(0.2)
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def server(collection, tmp_path):
    with serving([collection], tmp_path / "serve.log") as (url, _):
        yield url


@pytest.fixture(scope="module")
def text_collection(tmp_path_factory):
    corpus = make_corpus(tmp_path_factory.mktemp("docs"), per_topic=15)
    path = tmp_path_factory.mktemp("tc") / "news.semhash"
    index_folder(corpus, path, fast_options(epochs=30, bits=16))
    return path


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
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


class Page:
    """What the tests read off the page, each in one step."""

    def __init__(self, driver, tmp_path):
        from selenium.webdriver.support.ui import WebDriverWait

        self.d, self.tmp = driver, tmp_path
        self.wait = WebDriverWait(driver, 30).until

    def cards(self, grid="grid"):
        """(id, distance, text, thumbnail loaded) of each card of a grid."""
        return self.d.execute_script(
            "return [...document.querySelectorAll(`#${arguments[0]} .card`)].map(c => ["
            "Number(c.dataset.id), c.dataset.distance, c.innerText,"
            "(c.querySelector('img') || {naturalWidth: 1}).naturalWidth > 0]);", grid)  # fmt: skip

    def ids(self, grid="grid"):
        return [c[0] for c in self.cards(grid)]

    def first(self, grid="grid"):
        found = self.cards(grid)
        return tuple(found[0][:2]) if found else None

    def text(self, element_id):
        return self.d.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.innerText : null;",
            element_id)  # fmt: skip

    def slide(self, element_id, value):
        self.d.execute_script(
            "const r = document.getElementById(arguments[0]); r.value = arguments[1];"
            "r.dispatchEvent(new Event('input', {bubbles: true}));", element_id, value)  # fmt: skip

    def shot(self, name):
        self.wait(lambda d: all(c[3] for c in self.cards()) if self.cards() else True)
        path = self.tmp / f"page-{name}.png"
        self.d.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
        if os.environ.get("SEMHASH_SCREENSHOT_DIR"):
            shutil.copy(path, Path(os.environ["SEMHASH_SCREENSHOT_DIR"]) / path.name)

    def no_errors(self, *expected):
        """No error in the console but the `expected` ones (e.g. a refused upload's 400)."""
        severe = [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"
                  and not any(x in e["message"] for x in expected)]  # fmt: skip
        assert severe == [], severe


def unique_item(collection) -> tuple[int, str]:
    """An item no other item shares a code with, so that 'first' is well defined."""
    with api.open(collection) as coll:
        for i in range(len(coll)):
            same = coll.search(id=i, radius=0, k=None).results
            if [h.id for h in same] == [i]:
                return i, coll.item(i)["path"]
    pytest.fail("every item of the test collection shares its code with another")


def test_browse_search_and_item_in_a_real_browser(server, browser, collection, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    p = Page(browser, tmp_path)
    browser.get(server)  # the landing page: the collection as a grid
    p.wait(lambda d: d.current_url.endswith("/c/tiny") and len(p.cards()) == 60)
    assert "tiny" in browser.title and p.ids() == list(range(60))
    p.shot("grid")

    with api.open(collection) as coll:
        by_path = sorted(range(len(coll)), key=lambda i: coll.item(i)["path"], reverse=True)
    Select(browser.find_element(By.ID, "sort")).select_by_value("path")
    p.wait(lambda d: "sort=path" in d.current_url)
    Select(browser.find_element(By.ID, "order")).select_by_value("desc")
    p.wait(lambda d: "order=desc" in d.current_url and p.ids() == by_path[:60])
    browser.find_element(By.CSS_SELECTOR, ".pager a.next").click()
    p.wait(lambda d: "page=2" in d.current_url and p.ids() == by_path[60:120])
    browser.back()
    p.wait(lambda d: "page=2" not in d.current_url and p.ids() == by_path[:60])
    browser.forward()
    p.wait(lambda d: "page=2" in d.current_url and p.ids() == by_path[60:120])
    browser.refresh()  # a reload shows the same view
    p.wait(lambda d: p.ids() == by_path[60:120])

    qid, qpath = unique_item(collection)
    browser.find_element(By.ID, "file").send_keys(qpath)  # "drop" a query image
    p.wait(lambda d: len(p.cards()) == 20 and p.first() == (qid, "0"))
    assert "(uploaded)" in p.text("query-name")

    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"this is not an image")
    browser.find_element(By.ID, "file").send_keys(str(bad))  # a failed upload
    p.wait(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "cannot be read" in p.text("error")
    assert "searching" not in p.text("status"), "the status must not say searching beside an error"

    browser.get(server + "c/tiny?q=id:" + str(qid))  # a search by id has an address
    other = next(i for i in p.ids() if i != qid)
    browser.find_element(By.CSS_SELECTOR, f'#grid .card[data-id="{other}"] a.similar').click()
    p.wait(lambda d: f"q=id%3A{other}" in d.current_url or f"q=id:{other}" in d.current_url)
    p.wait(lambda d: p.first() is not None and p.first()[1] == "0" and other in p.ids())
    assert not browser.find_elements(By.ID, "baseline-col")

    browser.find_element(By.ID, "baseline").click()  # the raw-pixel baseline beside it
    p.wait(lambda d: "baseline=1" in d.current_url and len(p.cards("baseline-grid")) == 20)
    assert p.first("baseline-grid") == (other, "0") and "L2" in p.cards("baseline-grid")[1][2]
    p.shot("search")

    p.slide("radius", 0)  # only exact code matches
    p.wait(lambda d: "within radius 0" in p.text("status"))
    assert p.cards() and all(c[1] == "0" for c in p.cards())
    p.slide("radius", -1)
    p.wait(lambda d: "radius" not in d.current_url and "within radius" not in p.text("status"))
    browser.find_element(By.ID, "baseline").click()
    browser.find_element(By.ID, "asymmetric").click()  # the finer ranking: the API's answer
    with api.open(collection) as coll:
        want = [h.id for h in coll.search(id=other, k=40, asymmetric=True).results]
    p.wait(lambda d: "asymmetric" in p.text("codes-title").lower() and p.ids() == want[:20])
    assert all(c[2].startswith("asym ") for c in p.cards())

    p.slide("k", 5)  # five a page, then the second page: ranks 6-10
    p.wait(lambda d: "k=5" in d.current_url and p.ids() == want[:5])
    browser.find_element(By.CSS_SELECTOR, ".pager a.next").click()
    p.wait(lambda d: "page=2" in d.current_url and p.ids() == want[5:10])
    assert "ranks 6–10" in p.text("status")
    browser.back()
    p.wait(lambda d: p.ids() == want[:5])
    browser.refresh()
    p.wait(lambda d: p.ids() == want[:5] and d.find_element(By.ID, "asymmetric").is_selected())

    browser.find_element(By.CSS_SELECTOR, f'#grid .card[data-id="{want[1]}"] a.open').click()
    p.wait(lambda d: d.current_url.endswith(f"/c/tiny/item/{want[1]}"))
    p.wait(lambda d: d.execute_script(
        "return ['item-img', 'item-recon'].every(i => document.getElementById(i).naturalWidth > 0)"
    ) and len(p.cards("near")) == 12)  # fmt: skip
    with api.open(collection) as coll:
        row = coll.item(want[1])
    meta = p.text("item-meta")
    assert row["path"] in meta and row["label"] in meta and "outlier score" in meta
    link = browser.find_element(By.ID, "open-file").get_attribute("href")
    assert link.endswith(f"/api/collections/tiny/items/{want[1]}/file")
    assert urllib.request.urlopen(link).read() == open(row["path"], "rb").read()
    p.shot("item")
    browser.back()
    p.wait(lambda d: "q=id" in d.current_url and p.ids() == want[:5])
    p.no_errors(
        "/c/tiny/upload - Failed to load resource: the server responded with a status of 400"
    )


def read_download(browser) -> dict:
    """The selection file the page offers (its blob), as the browser would save it."""
    return json.loads(browser.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.getElementById('sel-download').href).then(r => r.text()).then(done);"
    ))  # fmt: skip


def test_duplicates_outliers_and_reconstructions_in_a_real_browser(server, browser, collection,
                                                                   tmp_path):  # fmt: skip
    from selenium.webdriver.common.by import By

    p = Page(browser, tmp_path)
    with api.open(collection) as coll:
        default = coll.duplicate_view(limit=500)
        loose = coll.duplicate_view(threshold=0.8, limit=500)
    browser.get(server + "c/tiny/duplicates")
    groups = lambda: browser.find_elements(By.CSS_SELECTOR, ".group")  # noqa: E731
    p.wait(lambda d: len(groups()) == min(20, default.total_groups))
    assert f"{default.total_groups} groups" in p.text("status")
    p.slide("threshold", "0.80")  # regroup at another threshold
    p.wait(lambda d: "threshold=0.8" in d.current_url and f"{loose.total_groups} groups"
           in p.text("status"))  # fmt: skip
    assert browser.find_elements(By.CSS_SELECTOR, "#least .pair")
    first = groups()[0]
    kept = int(first.get_attribute("data-keep"))
    first.find_element(By.CSS_SELECTOR, ".group-box").click()  # select that group
    n = len(first.find_elements(By.CSS_SELECTOR, ".dup-box"))
    p.wait(lambda d: f"1 groups, {n} duplicates selected" in p.text("sel-count"))
    assert "--selection duplicates-selection.json" in p.text("sel-command")
    p.shot("dedup")
    browser.refresh()  # the selection is kept across a reload
    p.wait(lambda d: f"1 groups, {n} duplicates" in (p.text("sel-count") or ""))
    selection = read_download(browser)
    assert selection["groups"][0]["keep"] == kept and len(selection["groups"][0]["duplicates"]) == n
    sel = tmp_path / "duplicates-selection.json"
    sel.write_text(json.dumps(selection))
    dry = subprocess.run([semhash_exe(), "dedup", str(collection), "--selection", str(sel),
                          "--move-to", str(tmp_path / "away"), "--dry-run", "-q"],
                         capture_output=True, text=True)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert sum(ln.startswith("would move") for ln in dry.stdout.splitlines()) == n

    browser.get(server + "c/tiny/outliers")
    p.wait(lambda d: len(p.cards()) == 48)
    with api.open(collection) as coll:
        worst = [o.id for o in coll.outliers(48)]
    assert p.ids() == worst and "100.00%" in p.cards()[0][2]
    for box in browser.find_elements(By.CSS_SELECTOR, ".pick-box")[:2]:
        box.click()
    p.wait(lambda d: "2 items selected" in p.text("sel-count"))
    assert "semhash outliers" in p.text("sel-command") and "--paths" in p.text("sel-command")
    p.shot("outliers")
    sel = tmp_path / "outliers-selection.json"
    sel.write_text(json.dumps(read_download(browser)))
    paths = subprocess.run([semhash_exe(), "outliers", str(collection), "--selection", str(sel),
                            "--paths"], capture_output=True, text=True)  # fmt: skip
    with api.open(collection) as coll:
        assert sorted(paths.stdout.split()) == sorted(coll.item(i)["path"] for i in worst[:2])

    browser.find_element(By.CSS_SELECTOR, "#tabs a[href$='/reconstructions']").click()
    p.wait(lambda d: d.current_url.endswith("/reconstructions") and d.execute_script(
        "const i = [...document.querySelectorAll('.recon-row img')];"
        "return i.length === 12 && i.every(x => x.naturalWidth > 0);"))  # fmt: skip
    p.shot("reconstructions")
    browser.back()
    p.wait(lambda d: d.current_url.endswith("/outliers") and len(p.cards()) == 48)
    p.no_errors()


def test_a_text_collection_in_a_real_browser(text_collection, browser, tmp_path):
    from selenium.webdriver.common.by import By

    p = Page(browser, tmp_path)
    with serving([text_collection], tmp_path / "serve.log") as (url, _):
        browser.get(url)
        p.wait(lambda d: d.current_url.endswith("/c/news") and len(p.cards()) == 45)
        box = browser.find_element(By.ID, "text")
        box.send_keys("rocket launch orbit nasa shuttle")
        browser.find_element(By.CSS_SELECTOR, "#text-form button[type=submit]").click()
        p.wait(lambda d: "q=rocket" in d.current_url and len(p.cards()) == 20)
        labels = [c[2] for c in p.cards()[:10]]
        assert sum("space" in t for t in labels) >= 8
        p.shot("text")

        long = "flour butter sugar oven bake recipe kitchen " * 60  # posted, not in the URL
        browser.execute_script("document.getElementById('text').value = arguments[0];", long)
        browser.find_element(By.CSS_SELECTOR, "#text-form button[type=submit]").click()
        p.wait(lambda d: "pasted text (uploaded)" in p.text("query-name"))
        assert sum("cooking" in c[2] for c in p.cards()[:10]) >= 8
        assert "q=" not in browser.current_url
        doc = tmp_path / "question.txt"
        doc.write_text("which goal did the team score in the playoff game on ice\n")
        browser.find_element(By.ID, "text-file").send_keys(str(doc))
        p.wait(lambda d: "question.txt (uploaded)" in p.text("query-name"))
        assert sum("hockey" in c[2] for c in p.cards()[:10]) >= 8

        browser.find_element(By.CSS_SELECTOR, "#grid .card a.open").click()
        p.wait(lambda d: "/c/news/item/" in d.current_url and len(p.cards("near")) == 12)
        assert len(p.text("post")) > 100 and "Newsgroups:" not in p.text("post")
        assert browser.find_elements(By.CSS_SELECTOR, "table.words td")
        p.shot("text-item")
        for view, element in (("duplicates", "duplicates"), ("outliers", "outliers"),
                              ("reconstructions", "reconstructions")):  # fmt: skip
            browser.get(f"{url}c/news/{view}")
            p.wait(lambda d, e=element: d.find_elements(By.ID, e))
        assert len(browser.find_elements(By.CSS_SELECTOR, "table.words")) == 12
        p.no_errors()


def test_a_half_sent_upload_is_one_log_line(collection, tmp_path):
    with serving([collection], tmp_path / "serve.log") as (url, log):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        for path in ("/api/collections/tiny/search", "/c/tiny/upload"):
            with socket.create_connection(("127.0.0.1", port)) as s:
                head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Content-Type: multipart/form-data; boundary=zz\r\n"
                        "Content-Length: 100000\r\n\r\n")  # fmt: skip
                part = (b'--zz\r\nContent-Disposition: form-data; name="image"; '
                        b'filename="q.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG')  # fmt: skip
                s.sendall(head.encode() + part + bytes(500))
                time.sleep(0.3)
            time.sleep(0.5)
        assert urllib.request.urlopen(url + "api/collections/tiny").status == 200
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text
    lines = [ln for ln in text.splitlines() if "closed the connection" in ln]
    assert len(lines) == 2, text  # one line per request, nothing else about it
    assert len(text.splitlines()) <= 10, text


def test_serve_answers_only_its_host_names(collection, tmp_path):
    def status(url, host):
        req = urllib.request.Request(url + "c/tiny", headers={"Host": host})
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code

    with serving([collection], tmp_path / "a.log") as (url, _):
        port = url.rsplit(":", 1)[1].strip("/")
        assert status(url, f"127.0.0.1:{port}") == 200 and status(url, "localhost") == 200
        assert status(url, "rebound.example") == 400
    with serving([collection], tmp_path / "b.log", "--allowed-hosts", "photos.lan,*.home") as (
        url, _,
    ):  # fmt: skip
        assert status(url, "photos.lan") == 200 and status(url, "nas.home:8000") == 200
        assert status(url, "localhost") == 400
