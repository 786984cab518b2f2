"""The playground in a real browser: headless Chromium driven by Selenium.

Each test does what a person would do on the page (type a command, pick from a typeahead,
press Save, move the clock, click Done) and saves screenshots into ``test-artifacts/``.
Needs Debian's ``chromium`` and ``chromium-driver``; without them the tests skip with the
reason, unless ``CRM_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns that into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dev.playground import ADMIN, MANAGER, REP, Playground
from crm.actors import Actor
from crm.customers import ContactInput, create_customer
from crm.followups import add_follow_up

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE_BROWSER = os.environ.get("CRM_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)
WAIT = 15


def _missing() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: install Debian's {package} (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator:
    reason = _missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason + " (CRM_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="crm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def playground() -> Iterator[Playground]:
    pg = Playground(port=0, tick_seconds=2).start()
    services = pg.services
    ws = services.workspace_id("T0PLAYGROUND")
    for name, site, contact in (
        ("Acme Robotics", "acme-robotics.com", "Jane Doe"),
        ("Globex Corporation", "globex.com", "Hank Scorpio"),
        ("Globex Corp Europe", None, None),
    ):
        create_customer(
            services.session_factory,
            services.search,
            ws,
            actor=REP,
            name=name,
            website=site,
            contact=ContactInput(name=contact) if contact else None,
            force=True,
        )
    yield pg
    pg.stop()
    assert not pg.standin.block_errors, f"the app sent invalid Block Kit: {pg.standin.block_errors}"


@pytest.fixture
def page(playground, browser):
    """The page, freshly loaded as Rita Rep in #sales (the browser closes before the playground stops)."""
    browser.get(playground.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.get(playground.url + "/")
    wait_for(browser, "#channels .sidebar-item.active")
    return browser


def wait_for(driver, css: str, *, text: str | None = None, visible: bool = True, timeout: float = WAIT):
    """The first element matching ``css`` (and containing ``text``), once it is there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d):
        for element in d.find_elements(By.CSS_SELECTOR, css):
            try:
                if (not visible or element.is_displayed()) and (text is None or text in element.text):
                    return element
            except Exception:  # stale: the page re-rendered it; look again
                continue
        return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(found)
    except Exception:
        shot(driver, "failed-" + css.replace(" ", "_").replace("/", "")[:40])
        raise


def read(
    driver, css: str, *, text: str, inner: str | None = None, timeout: float = WAIT, also: str | None = None
) -> tuple[str, list[str]]:
    """The text of the newest (last) visible element matching ``css`` that contains ``text``, with the
    texts of its ``inner`` elements, read together: an element the page re-renders while it is
    being read is looked up again (a WebElement kept across a re-render goes stale). With ``also``,
    it waits until that element contains ``also`` too (a thread's replies arrive after the message)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d):
        for element in reversed(d.find_elements(By.CSS_SELECTOR, css)):
            try:
                if element.is_displayed() and text in (seen := element.text):
                    if also is not None and also not in seen:
                        return False  # the newest such element, not yet complete
                    return seen, [e.text for e in element.find_elements(By.CSS_SELECTOR, inner)] if inner else []
            except StaleElementReferenceException:
                continue
        return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(found)
    except Exception:
        shot(driver, "failed-" + css.replace(" ", "_").replace("/", "")[:40])
        raise


def click(driver, css: str, *, text: str | None = None) -> None:
    """Click the element, finding it again if the page re-rendered it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(5):
        try:
            wait_for(driver, css, text=text).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css} kept changing under the click")


def settled(driver, css: str, text: str, reader):
    """``reader(element)`` for the element matching ``css`` and ``text``, found again if the page
    redrew it while it was being read."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(5):
        try:
            return reader(wait_for(driver, css, text=text))
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css} kept changing while it was read")


def gone(driver, css: str, timeout: float = WAIT) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: not any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, css))
    )


def shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"playground-{name}.png"
    driver.save_screenshot(str(path))
    return path


def type_in_composer(driver, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    composer = wait_for(driver, "#composer")
    composer.send_keys(text)
    composer.send_keys(Keys.ENTER)


def test_log_a_call_through_the_modal(page, playground):
    from selenium.webdriver.support.ui import Select

    type_in_composer(page, "/log")
    wait_for(page, "#modal-title", text="Log activity")

    page.find_element("css selector", "[data-typeahead='customer_picker:log']").send_keys("acme")
    option = wait_for(page, ".bk-typeahead-option", text="Acme Robotics")
    shot(page, "1-log-typeahead")
    option.click()
    # The app updates the modal with the customer's contacts (views.update after a block action).
    wait_for(page, "select[data-action-id='contact']")

    Select(wait_for(page, "select[data-action-id='type']")).select_by_visible_text("📞 Call")
    wait_for(page, "textarea[data-action-id='summary']").send_keys("Discussed renewal pricing with *Jane*")
    wait_for(page, "input[data-action-id='follow_up_text']").send_keys("in 3 days")
    shot(page, "2-log-modal-filled")
    page.find_element("css selector", "#modal-submit").click()

    gone(page, "#modal-overlay")
    confirmation, bold = read(page, ".msg.ephemeral", text="Acme Robotics", inner="b")
    assert "Only visible to you" in confirmation and "Logged" in confirmation
    shot(page, "3-log-confirmation")
    assert (bold and "Jane" in bold[0]) or "Jane" in confirmation


def test_the_help_shows_its_headings(page):
    type_in_composer(page, "/crm help")
    wait_for(page, ".msg.ephemeral .bkb-header", text="CRM commands")
    help_text, _ = read(page, ".msg.ephemeral", text="CRM commands")
    for heading in ("Customers", "Calls, meetings and follow-ups", "Capture without typing"):
        assert heading in help_text
    assert help_text.index("Customers") < help_text.index("/crm find") < help_text.index("Calls, meetings")
    shot(page, "5-help")


def test_a_field_error_is_shown_on_the_field(page):
    type_in_composer(page, "/log")
    wait_for(page, "#modal-title", text="Log activity")
    page.find_element("css selector", "#modal-submit").click()
    error = wait_for(page, ".bkb-input.has-error .bk-error", text="Pick a customer")
    assert error.is_displayed()
    shot(page, "4-log-field-error")
    page.find_element("css selector", "#modal-x").click()
    gone(page, "#modal-overlay")


def test_look_up_a_customer(page):
    type_in_composer(page, "/customer acme robotics")
    wait_for(page, ".msg.ephemeral .bkb-header", text="Acme Robotics")
    card, _ = read(page, ".msg.ephemeral", text="Acme Robotics")  # the message holding that header
    assert "Jane Doe" in card and "acme-robotics.com" in card
    shot(page, "6-customer-card")
    click(page, ".msg.ephemeral button[data-action-id^='customer_history']")
    wait_for(page, ".msg.ephemeral", text="History")
    shot(page, "7-customer-history")


def test_a_confirm_dialog_guards_an_admins_merge(page, playground):
    from selenium.webdriver.support.ui import Select

    Select(wait_for(page, "#user-switcher")).select_by_value(ADMIN)
    wait_for(page, "#clock-zone", text="Europe/London")
    type_in_composer(page, "/crm merge Globex Corp Europe into Globex Corporation")
    merge = ".msg.ephemeral button.danger, .msg.ephemeral button.primary"
    click(page, merge, text="Merge")
    wait_for(page, "#confirm-overlay #confirm-title")
    shot(page, "8-merge-confirm-dialog")
    page.find_element("css selector", "#confirm-no").click()  # denied: nothing happens
    gone(page, "#confirm-overlay")
    click(page, merge, text="Merge")
    wait_for(page, "#confirm-yes").click()
    wait_for(page, ".msg.ephemeral", text="Merged")
    shot(page, "9-merged")
    Select(page.find_element("css selector", "#user-switcher")).select_by_value(REP)


def test_done_on_a_nudge_after_time_travel(page, playground):
    _acme_follow_up(playground, "Send the signed order form")
    click(page, "#apps .sidebar-item", text="crm")
    wait_for(page, "#home .bkb-header")  # app_home_opened → views.publish
    shot(page, "10-app-home")
    click(page, "#tabs [data-tab='messages']")
    wait_for(page, "#messages .empty")

    page.find_element("css selector", "[data-advance='86400']").click()
    wait_for(page, "#clock-offset", text="1d")
    nudge, _ = read(page, ".msg", text="Send the signed order form", timeout=20)
    assert "Acme Robotics" in nudge
    shot(page, "11-nudge-arrived")
    click(page, ".msg button[data-action-id='followup_done']")
    settled, buttons = read(page, ".msg", text="Done: follow up", inner="button[data-action-id='followup_done']")
    assert "Acme Robotics" in settled
    assert not buttons
    shot(page, "12-nudge-done")


def _acme_follow_up(playground, note: str) -> None:
    """A follow-up for Acme Robotics, Rita's, due in 5 hours."""
    services = playground.services
    ws = services.workspace_id("T0PLAYGROUND")
    with services.session_factory() as session:
        from sqlalchemy import select

        from crm.models import Customer

        acme_id = session.scalar(select(Customer.id).where(Customer.name == "Acme Robotics"))
    add_follow_up(
        services.session_factory,
        ws,
        customer_id=acme_id,
        owner_user_id=REP,
        due_at=services.now() + timedelta(hours=5),
        actor=Actor(REP),
        now=services.now(),
        note=note,
    )


def _nudge_for(playground, page, note: str):
    """A follow-up for Acme Robotics due in 5 hours, then the clock a day on: its nudge in the DM."""
    _acme_follow_up(playground, note)
    click(page, "#apps .sidebar-item", text="crm")
    click(page, "#tabs [data-tab='messages']")
    page.find_element("css selector", "[data-advance='86400']").click()
    return wait_for(page, ".msg", text=note, timeout=20)


def test_snooze_from_the_menu_rewrites_the_nudge_at_once(page, playground):
    from selenium.webdriver.support.ui import Select

    _nudge_for(playground, page, "Call about the pilot")
    menu = wait_for(page, ".msg select[data-action-id='followup_snooze']")
    Select(menu).select_by_visible_text("Tomorrow 9:00")
    # No click elsewhere: the DM is rewritten while the menu would still have had the focus.
    menus = settled(
        page,
        ".msg",
        "Snoozed: follow up with Acme Robotics tomorrow at 09:00",
        lambda e: e.find_elements("css selector", "select[data-action-id='followup_snooze']"),
    )
    assert not menus
    shot(page, "13-nudge-snoozed")
    # A day later the same message says "today": Slack writes the time when it is read.
    page.find_element("css selector", "[data-advance='86400']").click()
    wait_for(page, ".msg", text="Snoozed: follow up with Acme Robotics today at 09:00")


def test_an_idle_tick_leaves_an_open_menu_open_and_counts_the_nudges(page, playground):
    sent_before = playground.last_tick.get("nudges_total", 0)
    _nudge_for(playground, page, "Bring the contract")
    total = playground.last_tick["nudges_total"]  # this one, and any snoozed earlier that fell due again
    assert total > sent_before
    wait_for(page, "#last-tick", text=f"{total} nudge{'' if total == 1 else 's'} and")
    # Open the message's ⋮ menu (message shortcuts), then let the scheduler run with nothing to send.
    message = wait_for(page, ".msg", text="Bring the contract")
    page.execute_script("arguments[0].dataset.mark = 'still-here'", message)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(page).move_to_element(message).perform()  # the ⋮ shows on hover, as in Slack
    message.find_element("css selector", ".shortcut-button").click()
    wait_for(page, ".bk-menu-item", text="Log to CRM")
    before = page.find_element("css selector", "#last-tick").get_attribute("data-at")
    playground.tick()
    until(page, lambda d: d.find_element("css selector", "#last-tick").get_attribute("data-at") != before)
    # The header moved on; the list was not redrawn, so the menu is still open on the same message.
    assert page.find_elements("css selector", ".msg[data-mark='still-here']")
    assert wait_for(page, ".bk-menu-item", text="Log to CRM").is_displayed()
    assert (
        f"{total} nudge{'' if total == 1 else 's'} and 0 digests sent so far"
        in page.find_element("css selector", "#last-tick").text
    )


def until(driver, condition, timeout: float = WAIT) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def test_the_pages_own_examples_each_find_one_customer_in_the_demo(browser):
    """On the demo data, what the page suggests trying lands on one customer, never a pick list."""
    with Playground(port=0, demo=True, tick_seconds=3600) as demo:
        browser.get(demo.url + "/")
        browser.execute_script("localStorage.clear()")
        browser.get(demo.url + "/")
        wait_for(browser, "#channels .sidebar-item.active")
        suggested = wait_for(browser, ".sidebar-help").text
        assert "/customer acme" in suggested and "/log call Acme discussed pricing" in suggested
        type_in_composer(browser, "/customer acme")
        wait_for(browser, ".msg.ephemeral .bkb-header", text="Acme Robotics")
        type_in_composer(browser, "/log call Acme discussed pricing, follow up tomorrow")
        assert "Acme Robotics" in settled(browser, ".msg.ephemeral", "Logged", lambda e: e.text)
        type_in_composer(browser, "@crm who's talked to Acme?")
        [answer] = demo.standin.wait_for("chat.postMessage")  # in the thread of the question
        said = json.dumps(answer.params.get("blocks"), ensure_ascii=False)
        assert "Acme Robotics" in said and "Several customers" not in said
        wait_for(browser, ".msg", text="1 reply")
        shot(browser, "14-demo-examples")
        # The admin's duplicate list on the demo suggests no false merge.
        from selenium.webdriver.support.ui import Select

        Select(wait_for(browser, "#user-switcher")).select_by_value(ADMIN)
        wait_for(browser, "#clock-zone", text="Europe/London")
        type_in_composer(browser, "/crm duplicates")
        wait_for(browser, ".msg.ephemeral", text="No probable duplicates found")
        shot(browser, "16-demo-no-false-duplicates")


def test_a_private_answer_in_a_shared_channel_shows_in_the_channel(page):
    click(page, "#channels .sidebar-item", text="ext-globex-partners")
    wait_for(page, "#channels .sidebar-item.active", text="ext-globex-partners")
    type_in_composer(page, "@crm who's talked to Acme Robotics?")
    # Not hidden in the question's thread: right below it, marked as only for the asker.
    answer = settled(page, "#messages .msg.ephemeral", "shared with another organisation", lambda e: e.text)
    assert "Only visible to you" in answer and "Acme Robotics" in answer
    shot(page, "15-shared-channel-private-answer")


def test_pipeline_charts_show_as_images_in_the_dm(page, playground):
    from crm.deals import DealInput, create_deal
    from crm.pipeline_stages import DEFAULT

    services = playground.services
    ws = services.workspace_id("T0PLAYGROUND")
    customer = create_customer(services.session_factory, services.search, ws, actor=REP, name="Chart Co", force=True)
    create_deal(
        services.session_factory,
        ws,
        customer.id,
        DealInput(title="Big one", amount="90000", stage="proposal"),
        actor=REP,
        stages=DEFAULT,
        now=services.now(),
    )
    type_in_composer(page, "/crm pipeline team charts")
    wait_for(page, ".msg.ephemeral", text="The charts are in your DM")
    click(page, f"#apps .sidebar-item[data-channel='D{REP[1:]}']")  # the app's DM
    click(page, "#tabs button[data-tab='messages']")
    image = wait_for(page, "img.msg-file-image")
    loaded = page.execute_script(
        "return [...document.querySelectorAll('img.msg-file-image')].map(i => [i.complete && i.naturalWidth, i.alt])"
    )
    assert loaded and all(width and width > 300 and alt for width, alt in loaded), loaded
    assert image.get_attribute("src").split("/api/file/")[1].startswith("F")
    shot(page, "8-pipeline-charts")


def test_a_digest_with_its_thread_and_charts_and_the_accounts_list(browser):
    """On the demo data: a manager subscribes #sales to the digest, a day passes, the short digest
    arrives with its thread (exact amounts, lists, three charts as images); then `/crm accounts`."""
    from selenium.webdriver.support.ui import Select

    with Playground(port=0, demo=True, tick_seconds=3600) as demo:
        browser.get(demo.url + "/")
        browser.execute_script("localStorage.clear()")
        browser.get(demo.url + "/")
        wait_for(browser, "#channels .sidebar-item.active", text="sales")
        Select(wait_for(browser, "#user-switcher")).select_by_value(MANAGER)
        wait_for(browser, "#clock-zone", text="America/Los_Angeles")
        type_in_composer(browser, "/crm digest subscribe 9:00 daily")
        # the demo subscribes #sales already, so this moves its time
        wait_for(browser, ".msg.ephemeral", text="now gets the pipeline digest at 09:00 every day")

        browser.find_element("css selector", "[data-advance='86400']").click()
        summary, _ = read(browser, "#messages .msg", text="are in the thread", also="replies", timeout=30)
        assert "📊 Pipeline digest" in summary and re.search(r"Open pipeline: \d+ deals · \$", summary), summary
        assert "Only visible to you" not in summary and "replies" in summary, summary
        shot(browser, "17-digest-summary")
        click(browser, "#messages .msg .thread-link", text="replies")
        wait_for(browser, "#thread-messages .msg", text="Open pipeline")
        images = wait_for(browser, "#thread-messages img.msg-file-image")
        browser.execute_script("arguments[0].scrollIntoView()", images)
        loaded = browser.execute_script(
            "return [...document.querySelectorAll('#thread-messages img.msg-file-image')]"
            ".map(i => [i.complete && i.naturalWidth, i.alt])"
        )
        assert len(loaded) == 3 and all(width and width > 300 and alt for width, alt in loaded), loaded
        assert any("Open pipeline by stage" in alt for _, alt in loaded)
        shot(browser, "18-digest-thread-charts")
        click(browser, "#thread-close")

        type_in_composer(browser, "/crm accounts tier:A")
        listed = settled(browser, ".msg.ephemeral", "Accounts by value", lambda e: e.text)
        assert "🥇 Tier A" in listed and "Lifetime " in listed and "Tier B" not in listed
        assert "Lifetime nothing" not in listed
        shot(browser, "19-accounts-tier-a")
        type_in_composer(browser, "/crm accounts owner:@rita")
        mine = settled(browser, ".msg.ephemeral", "owner", lambda e: e.text)
        assert "Name the owner with an @-mention" not in mine and "owner @rita" in mine
        shot(browser, "20-accounts-owner")
    assert not demo.standin.block_errors, demo.standin.block_errors
