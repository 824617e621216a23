"""The demo page in a real Chromium (Debian's ``chromium`` + ``chromedriver``, via Selenium).

It starts the demo as ``make run`` does without a token, opens the page, types ``/play`` with
the command autocomplete, plays a demo track, gets the bot's live suggestions for a second
``/play``, clicks the now-playing message's Pause button and sees that message updated in
place, and checks what the page's ``<audio>`` element plays: the element's own output is
recorded in the page (``captureStream`` + ``MediaRecorder``), sent back, decoded with the
bundled ffmpeg and must be the notes of the track that was asked for.  The page's level
meter must have moved as well.

Set ``MUSICBOT_SCREENSHOT=docs/demo-page.png`` to refresh the README's screenshot.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
import trio

from musicbot import config
from musicbot.demo.tracks import BY_NAME
from musicbot.demo.web import DemoWeb
from musicbot.embedded import run_embedded_console
from tests.demo.audio import notes_heard, window_pitches
from tests.demo.helpers import WatchedOutput

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):  # .ci/run installs both (.ci/system-packages.txt)
    if os.environ.get("CI"):
        raise RuntimeError("the browser test needs Debian's chromium and chromium-driver")
    pytest.skip("chromium or chromedriver missing (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 60.0  # seconds any one browser step may wait (the whole test has its fail_after)

RECORD_JS = """
const done = arguments[arguments.length - 1];
const audio = document.getElementById("voice-audio");
const stream = audio.captureStream();
const recorder = new MediaRecorder(stream, { mimeType: "audio/webm;codecs=opus" });
const chunks = [];
recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
recorder.onstop = async () => {
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  done(btoa(text));
};
recorder.start(250);
setTimeout(() => recorder.stop(), arguments[0]);
"""


def _driver(profile: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
        "--autoplay-policy=no-user-gesture-required",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(WAIT)
    return driver


def _wait(driver: WebDriver, what: Callable[[WebDriver], Any]) -> Any:
    return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(what)


def _decode(webm: bytes) -> Any:
    import array

    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
         "-ac", "1", "-ar", "48000", "-f", "s16le", "pipe:1"],
        input=webm, capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    pcm = array.array("h")
    pcm.frombytes(out)
    return pcm


def _np_message(driver: WebDriver) -> Any:
    for box in driver.find_elements(By.CSS_SELECTOR, "#messages .message"):
        if "Now playing" in box.text and box.find_elements(By.CSS_SELECTOR, "button"):
            return box
    return False


def browse(driver: WebDriver, url: str, screenshot: Path) -> dict[str, Any]:
    """Everything the user does in the page; returns what the test checks afterwards."""
    seen: dict[str, Any] = {}
    driver.get(url)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#member option")) == 3)
    seen["members"] = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#member option")]
    driver.find_element(By.ID, "listen").click()

    box = driver.find_element(By.ID, "input")
    box.send_keys("/pl")
    _wait(driver, lambda d: "/play" in d.find_element(By.ID, "suggestions").text)
    seen["command_suggestions"] = driver.find_element(By.ID, "suggestions").text.splitlines()
    box.send_keys(Keys.TAB)  # the first suggestion, /play
    seen["after_tab"] = box.get_attribute("value")
    # A demo track's link from the side panel fills the query; Enter sends the command.
    driver.find_element(By.CSS_SELECTOR, "#tracks a[title*='morning-walk']").click()
    seen["filled"] = box.get_attribute("value")
    box.send_keys(Keys.ENTER)
    np = _wait(driver, _np_message)
    seen["np_before"] = np.text

    # Record what the <audio> element plays while the track is on.
    _wait(driver, lambda d: d.execute_script("return window.demoAudio.level") > 0.01)
    seen["recorded"] = base64.b64decode(driver.execute_async_script(RECORD_JS, 4000))
    seen["page_pitches"] = driver.execute_script("return window.demoAudio.pitches.slice()")

    # The bot's own suggestions (autocomplete interaction) for what is being typed.
    box.send_keys("/play Mor")
    _wait(driver, lambda d: "Morning Walk" in d.find_element(By.ID, "suggestions").text)
    box.send_keys(Keys.ENTER)  # take the suggestion: its value is the track's link
    seen["accepted"] = box.get_attribute("value")
    box.send_keys(Keys.ENTER)
    _wait(driver, lambda d: "position 1" in d.find_element(By.ID, "messages").text)

    # Pause from the now-playing message: the message is edited in place.
    # (The live progress bar edits the message every [voice] now_playing_refresh seconds, and
    # the page renders an edit afresh: an element found just before one is stale; look again.)
    for attempt in range(5):
        try:
            np = _np_message(driver)
            message_id = np.get_attribute("id")
            np.find_element(By.XPATH, ".//button[contains(., 'Pause')]").click()
            break
        except StaleElementReferenceException:
            if attempt == 4:
                raise
    _wait(
        driver,
        lambda d: d.find_elements(
            By.XPATH, f"//*[@id='{message_id}']//button[contains(., 'Resume')]"
        ),
    )
    seen["np_after"] = driver.find_element(By.ID, message_id).text
    seen["np_count"] = sum(
        1
        for b in driver.find_elements(By.CSS_SELECTOR, "#messages .message")
        if "Now playing" in b.text
    )
    driver.save_screenshot(str(screenshot))

    # A select menu: /search offers the media server's results; picking one queues it.
    box.send_keys("/search long")
    box.send_keys(Keys.ESCAPE, Keys.ENTER)  # no suggestion wanted: send the line
    menu = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#messages select"))[-1]
    seen["menu"] = [o.text for o in Select(menu).options]
    Select(menu).select_by_visible_text(next(t for t in seen["menu"] if "Long Road" in t))
    _wait(driver, lambda d: "Added The Long Road" in d.find_element(By.ID, "messages").text)
    return seen


async def test_the_page_plays_and_you_hear_it(tmp_path: Path, data_dir: Callable[[], Path]) -> None:
    cfg = config.build(
        {"storage": {"data_dir": str(data_dir())}, "log": {"level": "warning"}}, environ={}
    )
    out = WatchedOutput()
    read_fd, write_fd = os.pipe()
    webs: list[DemoWeb] = []
    screenshot = Path(os.environ.get("MUSICBOT_SCREENSHOT") or tmp_path / "page.png")
    driver: WebDriver | None = None
    try:
        with trio.fail_after(240):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    functools.partial(
                        run_embedded_console,
                        cfg,
                        stdin_fd=read_fd,
                        out=out,
                        on_web=webs.append,
                        web_port=0,
                        media_port=0,
                    )
                )
                await out.wait_for(r"Open the demo page: (\S+)")
                driver = await trio.to_thread.run_sync(_driver, tmp_path / "profile")
                seen = await trio.to_thread.run_sync(browse, driver, webs[0].url, screenshot)
                os.write(write_fd, b"/quit\n")
    finally:
        if driver is not None:
            await trio.to_thread.run_sync(driver.quit)
        os.close(write_fd)
        os.close(read_fd)

    assert [m.split(" — ")[0] for m in seen["members"]] == ["Alex", "Sam", "Linh"]
    assert seen["command_suggestions"][0].startswith("/play")
    assert seen["after_tab"] == "/play "
    assert seen["filled"].endswith("/page/morning-walk.html")
    assert "Morning Walk" in seen["np_before"] and "Pause" in seen["np_before"]
    assert seen["accepted"].startswith("/play http://127.0.0.1:")
    assert seen["accepted"].endswith("/page/morning-walk.html")
    assert "Resume" in seen["np_after"] and "(edited)" in seen["np_after"]
    assert seen["np_count"] == 1  # edited in place, not reposted
    assert any("The Long Road" in text for text in seen["menu"])
    # What the page's <audio> element played: Morning Walk's notes.
    melody = BY_NAME["morning-walk"]
    share, notes = notes_heard(window_pitches(_decode(seen["recorded"])), melody)
    assert share > 0.6 and len(notes) >= 2, (share, notes)
    # The page's own analyser (level meter) heard the same notes.
    page_share, page_notes = notes_heard([float(p) for p in seen["page_pitches"]], melody)
    assert page_share > 0.5 and len(page_notes) >= 2, (page_share, page_notes)
    assert screenshot.stat().st_size > 10_000
