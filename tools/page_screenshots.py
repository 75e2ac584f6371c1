"""Screenshots of the web page's views for the docs (docs/page-*.png), in headless Chromium.

    python tools/page_screenshots.py IMAGES.semhash TEXTS.semhash [OUT] [--item ID] [--q TEXT]

Starts the installed `semhash serve` on both collections, visits each view at its address
(waiting out the one-time computation of outlier scores and duplicate pairs), ticks the
first duplicate group so that the selection bar shows its command, and saves
page-grid, page-search, page-item, page-dedup, page-outliers, page-reconstructions,
page-text and page-text-item into OUT (default: docs). Needs /usr/bin/chromium,
/usr/bin/chromedriver and Selenium (`make browser`).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images")
    ap.add_argument("texts")
    ap.add_argument("out", nargs="?", default="docs")
    ap.add_argument("--item", type=int, default=0, help="the image item to show and search with")
    ap.add_argument("--q", default="how to undo the last commit", help="the text search")
    args = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    exe = Path(sys.executable).parent / "semhash"
    port = free_port()
    server = subprocess.Popen([str(exe if exe.exists() else shutil.which("semhash")), "serve",
                               args.images, args.texts, "--port", str(port), "-q"])  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1440,1000",
                 "--disable-dev-shm-usage", "--hide-scrollbars"):  # fmt: skip
        opts.add_argument(flag)
    driver = None
    try:
        names = wait_up(base)
        img, txt = names
        driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
        wait = WebDriverWait(driver, 600).until
        out = Path(args.out)

        def shoot(path: str, name: str, then=None) -> None:
            driver.get(base + path)
            wait(lambda d: not d.find_elements(By.ID, "warming"))  # computed once, then shown
            wait(lambda d: d.execute_script(  # the pictures in view (the others load lazily)
                "return [...document.images].filter(i => i.getAttribute('src') && !i.hidden"
                " && i.getBoundingClientRect().top < innerHeight"
                " && i.getBoundingClientRect().left < innerWidth)"
                ".every(i => i.complete && i.naturalWidth > 0)"))  # fmt: skip
            if then:
                then()
            time.sleep(0.5)
            driver.save_screenshot(str(out / f"page-{name}.png"))
            print(f"{out / f'page-{name}.png'}  <- {path}")

        def tick_first_group():
            driver.find_element(By.CSS_SELECTOR, ".group .group-box").click()
            wait(lambda d: "selected" in d.find_element(By.ID, "sel-count").text)

        shoot(f"/c/{img}", "grid")
        shoot(f"/c/{img}?q=id:{args.item}&baseline=1", "search")
        shoot(f"/c/{img}/item/{args.item}", "item")
        shoot(f"/c/{img}/duplicates", "dedup", tick_first_group)
        shoot(f"/c/{img}/outliers", "outliers")
        shoot(f"/c/{img}/reconstructions?sort=outlier&order=desc", "reconstructions")
        shoot(f"/c/{txt}?q={quote(args.q)}&baseline=1", "text")
        first = driver.find_element(By.CSS_SELECTOR, "#grid .card").get_attribute("data-id")
        shoot(f"/c/{txt}/item/{first}", "text-item")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait()


def wait_up(base: str) -> list[str]:
    import json

    for _ in range(600):
        try:
            with urllib.request.urlopen(base + "/api/collections", timeout=2) as r:
                return [c["name"] for c in json.load(r)]
        except (OSError, urllib.error.URLError):
            time.sleep(0.5)
    raise SystemExit("semhash serve did not start")


if __name__ == "__main__":
    main()
