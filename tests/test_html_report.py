"""The HTML report of a small real run, opened in headless Chromium.

The browser is driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in NUL on file descriptors 3 and 4), so the test needs nothing beyond the
standard library and Debian's ``chromium``. It collects console errors, uncaught exceptions,
failed loads and every network request, and reads the rendered DOM with ``Runtime.evaluate``.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DATA, REPO_ROOT

REQUIRE_ENV = "ARTBENCH_REQUIRE_BROWSER"
SUITE_SETS = [
    "defenses=[{name: none}, {name: distillation, params: {temperature: [10, 100]}}]",
    "attacks=[{name: fgsm, params: {eps: [0.1, 0.3]}}, {name: broken},"
    " {name: bim, params: {eps: 0.2, eps_step: 0.02, max_iter: 5, target: 3}}]",
    "transfer=[{source: {defense: none}}]",
]

#: what the page looks like once rendered, as one JSON value
PROBE = """JSON.stringify({
  title: document.title,
  sections: [...document.querySelectorAll('main > section')].map(s => s.id),
  matrixRows: document.querySelectorAll('#success-matrix tbody tr').length,
  robust: [...document.querySelectorAll('#threats td.robust')].map(td => td.innerText),
  robustTitles: [...document.querySelectorAll('#threats td.robust .tier')].map(s => s.title),
  matrixHeads: [...document.querySelectorAll('#success-matrix thead th.attack')].map(t => t.title),
  heatCells: document.querySelectorAll('#success-matrix td.heat[data-value]').length,
  failedCells: document.querySelectorAll('#success-matrix td.failed').length,
  colouredCells: [...document.querySelectorAll('#success-matrix td.heat[data-value]')]
    .filter(td => getComputedStyle(td).backgroundColor !== 'rgba(0, 0, 0, 0)').length,
  images: [...document.images].map(i => ({
    figure: i.closest('figure') ? (i.closest('figure').id || i.closest('figure').className) : null,
    loaded: i.complete && i.naturalWidth > 0, width: i.getBoundingClientRect().width})),
  suite: document.querySelector('#suite') ? document.querySelector('#suite').textContent : null,
  scripts: document.scripts.length,
})"""


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but no chromium is on PATH")
        pytest.skip(f"headless Chromium not installed (apt-get install chromium); set "
                    f"{REQUIRE_ENV}=1 to make this a failure")
    return path


def _high(fd: int) -> int:
    """A copy of ``fd`` numbered 10 or above (so redirecting it to 3 and 4 cannot collide)."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class Browser:
    """Headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary: str, profile: Path, timeout: float = 60.0) -> None:
        to_chrome_r, to_chrome_w = map(_high, os.pipe())
        from_chrome_r, from_chrome_w = map(_high, os.pipe())
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"]
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", binary,
             *flags], pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.wfd, self.rfd = to_chrome_w, from_chrome_r
        self.deadline = time.monotonic() + timeout
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def send(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())

    def open(self, url: str) -> dict[str, Any]:
        """Load ``url`` in a fresh page; return the probe's result and what went wrong."""
        target = self.send("Target.createTarget", session=False, url="about:blank")
        self.session = self.send("Target.attachToTarget", session=False,
                                 targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        probe = self.send("Runtime.evaluate", expression=PROBE, returnByValue=True)
        return {"page": json.loads(probe["result"]["value"]), "errors": self.errors(),
                "requests": [e["params"]["request"]["url"] for e in self.events
                             if e.get("method") == "Network.requestWillBeSent"]}

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                                 "assert"):
                out.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
            elif method == "Network.loadingFailed":
                out.append(f"load failed: {params.get('errorText')}")
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.wfd)
        os.close(self.rfd)


def open_in_browser(binary: str, page: Path, tmp: Path) -> dict[str, Any]:
    browser = Browser(binary, tmp / "profile")
    try:
        return browser.open(page.resolve().as_uri())
    finally:
        browser.close()


def bench(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARTBENCH_STORE": str(tmp / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(tmp / "cache")}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny run (undefended + distilled at T = 10 and 100; an FGSM eps sweep, a plugin
    attack that fails, a targeted BIM; transfer from the undefended row) and its HTML report."""
    tmp = tmp_path_factory.mktemp("html")
    sets = [a for s in SUITE_SETS for a in ("--set", s)]
    run = bench("run", str(DATA / "tiny.yaml"), "--quiet", "-p",
                str(DATA / "plugins" / "broken_attack.py"), *sets, tmp=tmp)
    assert run.returncode == 1, run.stdout + run.stderr  # the broken attack's cells fail
    out = tmp / "report.html"
    res = bench("report", "--html", str(out), tmp=tmp)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href") and not (value or "").startswith("#"):
                self.refs.append(value or "")


def test_report_is_self_contained(report_html: Path) -> None:
    text = report_html.read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(text)
    assert parser.refs and all(r.startswith("data:image/svg+xml;base64,") for r in parser.refs)
    assert "<script" not in text.lower()
    for section in ('id="threats"', 'id="matrix"', 'id="eps"', 'id="defense-sweep"',
                    'id="targeted"', 'id="examples"', 'id="timings"', 'id="provenance"'):
        assert section in text


def test_report_renders_in_headless_chromium(chromium: str, report_html: Path,
                                             tmp_path: Path) -> None:
    result = open_in_browser(chromium, report_html, tmp_path)
    page = result["page"]
    assert result["errors"] == []
    assert all(u.startswith(("file:", "data:")) for u in result["requests"]), result["requests"]
    assert page["title"] == "artbench run 1: tiny"
    # "flags" appears only when the run recorded sanity flags
    assert [s for s in page["sections"] if s != "flags"] == [
        "threats", "matrix", "eps", "defense-sweep", "targeted", "examples", "timings",
        "provenance"]
    # the matrix: 3 rows (none, T=10, T=100) x (2 FGSM + failing plugin + targeted BIM), each
    # attack white-box and transferred from the undefended row (not evaluated on itself)
    assert page["matrixRows"] == 3
    # robust accuracy per row and threat model (none declared: the bounds that ran, L-inf 0.1,
    # 0.2 and 0.3), with its tiers, in place of the matrix's worst-case column
    assert len(page["robust"]) == 3 * 3 and all("%" in r and "n=" in r for r in page["robust"])
    # each tier with the wider side of its 95 % interval, the whole interval in its tooltip
    assert all("\u00b1" in r for r in page["robust"]), page["robust"]
    assert page["robustTitles"] and all("; 95 % interval " in t for t in page["robustTitles"])
    assert page["matrixHeads"] == [h for a in ("fgsm[eps=0.1]", "fgsm[eps=0.3]", "broken", "bim")
                                   for h in (a, f"{a} \u2190 cnn/none")]
    assert page["heatCells"] == page["colouredCells"] == 9 + 6
    assert page["failedCells"] == 3 + 2
    # every figure decoded and laid out: eps sweeps (white-box, transferred), one figure of
    # the distillation temperature (the defense's declared sweep axis), histograms for the 3
    # white-box targeted cells, one example grid per row
    figures = [i["figure"] for i in page["images"]]
    assert figures == (["curve-1", "eps-1", "eps-2", "defense-sweep-1"] + ["plot histogram"] * 3
                       + ["plot examples"] * 3)
    assert all(i["loaded"] and i["width"] > 200 for i in page["images"]), page["images"]
    assert "distillation" in page["suite"] and page["scripts"] == 0


def test_browser_check_catches_errors(chromium: str, tmp_path: Path) -> None:
    """The check above would see a broken page: a console error and an image that fails."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><title>x</title><img src="missing.png">'
                    '<script>console.error("boom")</script>', encoding="utf-8")
    result = open_in_browser(chromium, page, tmp_path)
    assert any("boom" in e for e in result["errors"]), result["errors"]
    assert any("missing.png" in e or "load failed" in e for e in result["errors"])
    assert result["page"]["images"][0]["loaded"] is False


def test_flags_failures_and_escaping(report_html: Path) -> None:
    """Sanity flags in a cell's info are badged and listed; user text is escaped."""
    import dataclasses

    from bench.render.html import render_html
    from bench.results.model import load_report
    from bench.results.records import Flag
    from bench.results.store import Store

    store = Store(report_html.parent / "store.sqlite")
    report = load_report(store, None)
    store.close()
    cells = [dataclasses.replace(c, flags=()) for c in report.cells]
    cells[0] = dataclasses.replace(cells[0], flags=(
        Flag("zero_gradients", "raised", "95% of samples <b>"),
        Flag("success_rises_with_eps", "ok", "")))
    cells[1] = dataclasses.replace(cells[1], error="<script>alert(1)</script>",
                                   status="failed")
    report.cells = cells
    html = render_html(report)
    assert 'id="flags-table"' in html and "1 sanity flag raised" in html
    # one badge in each matrix (success rate, adversarial accuracy)
    assert html.count('class="flag"') == 2 and "&#9873;&thinsp;1" in html
    assert "zero_gradients: 95% of samples &lt;b&gt;" in html  # badge tooltip, escaped
    assert "1 quiet" in html and "success_rises_with_eps" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
