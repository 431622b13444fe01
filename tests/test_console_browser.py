"""The console in a real browser: Debian's Chromium driven through Selenium (chromium-driver) against the
gateway running under gunicorn on SQLite. Signs in, opens and corrects a ticket, activates and rolls back
a model, retries a dead letter, walks the review queue with the keyboard, and checks what a read-only key
may see and post. Each page's screenshot goes to `HELPLOOP_SCREENSHOTS_DIR` (`make screenshots` writes
docs/console/, the pictures docs/console.md shows); skipped with the reason when Chromium is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import select

from helploop.bench.console_data import seed_inbox
from helploop.cli.run import stop_process_groups, wait_ready
from shared.access.service import create_key
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.models import Delivery, DeliveryStatus, Resolution
from shared.redis_server import free_port
from shared.tickets.models import Ticket
from tests.conftest import ADMIN_API_KEY, API_KEY, REPO_ROOT, WEBHOOK_SECRET, _worker_index
from tests.console_support import dead_delivery, small_registry

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or ""
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (make install)")
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).is_file() and DRIVER),
    reason="no Chromium: apt-get install chromium chromium-driver (see docs/console.md)",
)
By = pytest.importorskip("selenium.webdriver.common.by").By
WebDriverWait = pytest.importorskip("selenium.webdriver.support.ui").WebDriverWait
staleness_of = pytest.importorskip("selenium.webdriver.support.expected_conditions").staleness_of
WebDriverException = pytest.importorskip("selenium.common.exceptions").WebDriverException
BIN = Path(sys.executable).parent
HTML_BODY = '<img src=x onerror="window.pwned=1"><b id="injected">bold</b> please help'


def _replaced(element: Any) -> bool:
    """`staleness_of`, also when chromedriver answers the check on a node its navigation just removed with
    "unhandled inspector error: Node with given id does not belong to the document" (seen on 2026-12-04)."""
    try:
        return staleness_of(element)(None)
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise


class Console:
    def __init__(self, base_url: str, driver: Any, shots: Path, factory: Any, ids: list[str]) -> None:
        self.url, self.driver, self.shots, self.factory, self.ids = base_url, driver, shots, factory, ids

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def then_new_page(self, act: Callable[[], Any]) -> None:
        """Do `act` (a click, a key) and wait until the page it leads to has replaced this one."""
        old = self.find("html")
        try:
            act()
        except WebDriverException as exc:  # chromedriver, when the click's own navigation replaced the
            if "does not belong to the document" not in str(exc):  # node it was still inspecting
                raise
        WebDriverWait(self.driver, 10).until(lambda _: _replaced(old))  # the navigation happened either way
        WebDriverWait(self.driver, 10).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def click(self, css: str) -> None:
        self.then_new_page(self.find(css).click)

    def sign_in(self, key: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/console/sign-in")
        self.find("#api-key").send_keys(key)
        self.click("#sign-in")
        assert self.driver.current_url.endswith("/console/tickets"), self.find("main").text

    def post_from_page(self, path: str, fields: dict[str, str]) -> int:
        """A form post built by script in the signed-in page (what a forged form would send)."""
        script = (
            "const done = arguments[arguments.length - 1];"
            "const body = new URLSearchParams(arguments[1]);"
            "fetch(arguments[0], {method: 'POST', body: body, redirect: 'manual'})"
            ".then(r => done(r.status)).catch(e => done(String(e)));"
        )
        return self.driver.execute_async_script(script, self.url + path, fields)


def _seed(database_url: str) -> tuple[Any, list[str]]:
    upgrade_database(database_url)
    factory = build_session_factory(build_engine(database_url))
    ids = seed_inbox(factory, 300, spacing_s=3600)  # 12 days of tickets, for the Quality page's charts
    with session_scope(factory) as session:
        session.get(Ticket, ids[5]).body = HTML_BODY
    dead_delivery(factory, ids[7], status_code=503, error="helpdesk unavailable (503) after 8 attempts")
    return factory, ids


def _env(tmp: Path, database_url: str, redis_url: str, registry_root: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELPLOOP_")},
        "HELPLOOP_ENV": "test",
        "HELPLOOP_DATABASE_URL": database_url,
        "HELPLOOP_REDIS_URL": redis_url,
        "HELPLOOP_MODEL_REGISTRY_DIR": str(registry_root),
        "HELPLOOP_ENCODER_REGISTRY_DIR": str(tmp / "encoders"),
        "HELPLOOP_GENERATOR_REGISTRY_DIR": str(tmp / "generators"),
        "HELPLOOP_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "HELPLOOP_API_KEYS": API_KEY,
        "HELPLOOP_ADMIN_API_KEYS": ADMIN_API_KEY,
        "HELPLOOP_API_KEY_CACHE_S": "0",
        "HELPLOOP_METRICS_DIR": str(tmp / "metrics"),
        "HELPLOOP_RATE_LIMIT_API": "",
        "HELPLOOP_RATE_LIMIT_AUTH_FAILURES": "",
    }


def _browser() -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1360,900", "--lang=en-US"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, redis_base_url: str, worker_id: str
) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    redis_url = (
        f"{redis_base_url}/{int(os.environ.get('HELPLOOP_TEST_REDIS_DB', '14')) - _worker_index(worker_id)}"
    )
    redis.Redis.from_url(redis_url).flushdb()
    database_url = f"sqlite:///{tmp / 'helploop.db'}"
    factory, ids = _seed(database_url)
    registry = small_registry(tmp / "models")
    port = free_port()
    log = (tmp / "gateway.log").open("ab")
    argv = [str(BIN / "helploop"), "gateway", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    env = _env(tmp, database_url, redis_url, registry.root)
    gateway = subprocess.Popen(
        argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    shots = Path(os.environ.get("HELPLOOP_SCREENSHOTS_DIR") or tmp / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    driver = None
    try:
        wait_ready(f"http://127.0.0.1:{port}", [gateway])
        driver = _browser()
        driver.set_script_timeout(10)
        yield Console(f"http://127.0.0.1:{port}", driver, shots, factory, ids)
    except BaseException:
        print((tmp / "gateway.log").read_text()[-4000:])
        raise
    finally:
        if driver is not None:
            driver.quit()
        stop_process_groups([gateway])
        redis.Redis.from_url(redis_url).flushdb()


def test_sign_in_open_a_ticket_and_correct_its_intent(console: Console) -> None:
    console.open("/console/tickets")
    assert "/console/sign-in" in console.driver.current_url  # no session: the sign-in page
    console.shot("sign-in")
    console.find("#api-key").send_keys("not-a-key")
    console.click("#sign-in")
    assert "invalid API key" in console.find("#sign-in-error").text
    console.sign_in(ADMIN_API_KEY)
    assert len(console.all("a.ticket-link")) == 50
    console.shot("inbox")
    ticket_id = console.ids[3]
    console.open(f"/console/tickets/{ticket_id}")
    predicted = console.find("#predicted-intent strong").text
    console.shot("ticket")
    choice = next(o for o in console.all("#intent-choice option") if o.get_attribute("value") != predicted)
    corrected = choice.get_attribute("value")
    choice.click()
    console.click("#save-intent")
    assert corrected in console.find("#final-label").text
    view = requests.get(
        f"{console.url}/v1/tickets/{ticket_id}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )
    resolution = view.json()["resolution"]
    assert resolution["final_labels"]["label"] == corrected and resolution["source"] == "console"
    assert resolution["correct"] is False and view.json()["classification"]["label"] == predicted


def test_activate_and_roll_back_a_model(console: Console) -> None:
    console.sign_in(ADMIN_API_KEY)
    console.open("/console/models?version=v2")
    assert "v1" in console.find("#active-version strong").text and console.all("svg.chart polyline")
    console.shot("models")
    console.click('tr[data-version="v2"] a.activate')
    assert "Activate v2 in place of v1" in console.find("#confirm-summary").text
    console.shot("confirm")
    console.click("#confirm")
    assert console.find("#active-version strong").text == "v2"
    console.click("#rollback")
    console.click("#confirm")
    assert console.find("#active-version strong").text == "v1"
    console.open("/console/audit")
    actions = console.find("#audit").text
    assert actions.count("console.admin.model_action") >= 2 and "env:admin#1" in actions
    console.shot("audit")


def test_retry_a_dead_letter(console: Console) -> None:
    console.sign_in(ADMIN_API_KEY)
    console.open("/console/dead-letters")
    row = console.find("#dead-letters tr[data-delivery]")
    delivery_id = int(row.get_attribute("data-delivery"))
    assert "503" in row.text
    console.shot("dead-letters")
    console.then_new_page(row.find_element(By.CSS_SELECTOR, "button.retry").click)
    assert str(delivery_id) in console.find("#retried").text
    with session_scope(console.factory) as session:
        assert session.get(Delivery, delivery_id).status == DeliveryStatus.PENDING
    assert not console.all("#dead-letters tr[data-delivery]")


def test_review_queue_by_keyboard_and_the_other_pages(console: Console) -> None:
    console.sign_in(ADMIN_API_KEY)
    console.open("/console/review")
    first = console.find(".review-item.current").get_attribute("data-ticket")
    console.shot("review")
    console.then_new_page(lambda: console.find("body").send_keys("s"))  # skip
    assert console.find(".review-item.current").get_attribute("data-ticket") != first
    second = console.find(".review-item.current").get_attribute("data-ticket")
    console.then_new_page(lambda: console.find("body").send_keys("c"))  # confirm the predicted intent
    assert second not in [e.get_attribute("data-ticket") for e in console.all(".review-item")]
    with session_scope(console.factory) as session:
        confirmed = session.scalars(select(Resolution).where(Resolution.ticket_id == second)).one()
        predicted = session.get(Ticket, second).latest_result.label
        assert confirmed.source == "console" and confirmed.correct
        assert confirmed.final_labels["label"] == predicted
    for page, name in (("/console/quality", "quality"), ("/console/kb", "knowledge-base")):
        console.open(page)
        console.shot(name)
    console.open("/console/quality")
    assert len(console.all("svg.chart")) == 3
    console.open("/console/tickets?lang=zh")
    assert console.find("h1").text == "工单收件箱"
    console.shot("inbox-zh")
    console.open("/console/tickets?lang=en")


def test_a_read_only_key_sees_no_admin_buttons_and_forged_posts_are_refused(console: Console) -> None:
    _, read_only = create_key(session_factory=console.factory, name="team lead", scopes=["read"])
    console.sign_in(read_only)
    console.open("/console/models")
    assert not console.all("a.activate") and not console.all("#rollback") and not console.all("#nav-audit")
    console.open(f"/console/tickets/{console.ids[3]}")
    assert not console.all("#correct-form")
    token = console.find('input[name="csrf_token"]').get_attribute("value")
    fields = {"kind": "classifier", "version": "v2", "csrf_token": token}
    assert console.post_from_page("/console/models/activate", fields) == 403
    assert console.post_from_page(f"/console/dead-letters/{1}/retry", {"csrf_token": token}) == 403
    console.open("/console/audit")
    assert console.find("#error-status").text == "403" and "env:admin" not in console.find("main").text
    console.sign_in(ADMIN_API_KEY)
    console.open("/console/models")
    without_token = {"kind": "classifier", "version": "v2"}
    assert console.post_from_page("/console/models/activate", without_token) == 400
    assert console.find("#active-version strong").text == "v1"


def test_html_in_a_ticket_body_is_text_not_markup(console: Console) -> None:
    console.sign_in(API_KEY)
    console.open(f"/console/tickets/{console.ids[5]}")
    assert '<b id="injected">bold</b>' in console.find("#body-normalised").text
    assert not console.all("#injected") and console.driver.execute_script("return window.pwned") is None
