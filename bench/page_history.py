"""The page with a long history: a room of 3,000+ messages opened in chromium (issue 20).

    .venv/bin/python bench/page_history.py                 # 3,000 messages, 5 rounds, SQLite
    .venv/bin/python bench/page_history.py --messages 6000 --rounds 3 --database-url postgresql://...

Starts the Procfile's server (gunicorn, eventlet) on a free port with a fresh database, fills one
room through the socket API (two people taking turns, as real rooms read), then per round, in a
fresh browser context of a member:
- open: from navigation start, the time until the room's newest message is in the DOM (reload of
  a page that was in the room: the page remembers it), and until it is in view;
- switch: from a click on the room's sidebar entry (coming from another room) to the newest shown;
- the DOM: element count of the document and the log's items after opening and after scrolling back;
- scroll back: the log scrolled to its top N times; each time, how long until older messages are
  in the DOM; long tasks (PerformanceObserver 'longtask', > 50 ms) during all of it.
Prints one JSON line per round and a summary table (medians). Lab notes: docs/benchmarks/page-history.md.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests import servers  # noqa: E402
from tests.browser_helpers import Bot, join, open_room, room_entry  # noqa: E402
from tests.test_browser import CHROMIUM_ARGS, PASSWORD, expect  # noqa: E402

# Before any script of the page: a clock for "newest shown" and a long-task recorder.
INSTRUMENT_JS = """(() => {
  window.__bench = {longtasks: [], shown: null, target: window.__benchTarget ?? null};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__bench.longtasks.push([e.startTime, e.duration]);
    }).observe({type: 'longtask', buffered: true});
  } catch (e) { /* no longtask support */ }
  const check = () => {
    const b = window.__bench;
    if (b.target && b.shown === null && document.querySelector(`#messages li[data-id="${b.target}"]`)) {
      b.shown = performance.now();
    }
    if (b.connected == null && document.querySelector('#status.connected')) b.connected = performance.now();
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true});
})();"""
SCROLL_TOP_JS = """() => {
  let el = document.getElementById('messages');
  while (el && el !== document.body) {
    const s = getComputedStyle(el);
    if (/(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight) break;
    el = el.parentElement;
  }
  el = el && el !== document.body ? el : document.scrollingElement;
  el.scrollTop = 0;
  el.dispatchEvent(new Event('scroll'));
}"""
OLDEST_JS = """() => Math.min(...[...document.querySelectorAll('#messages li[data-id]')].map((li) => +li.dataset.id))"""
COUNTS_JS = """() => ({elements: document.getElementsByTagName('*').length,
  items: document.querySelectorAll('#messages > li').length,
  messages: document.querySelectorAll('#messages li.message').length})"""


def fill_room(url, room, count):
    """`count` messages in `room` from two people taking turns, three lines each; returns (people, newest id)."""
    people = [Bot(url, "writer-one").join(room), Bot(url, "writer-two").join(room)]
    newest = None
    started = time.monotonic()
    for n in range(count):
        author = people[(n // 3) % 2]
        newest = author.say(room, f"message {n + 1} of {count}: a line of ordinary length to read")
    print(f"filled {room} with {count} messages in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return people, newest


def one_round(browser, url, viewer_state, room, other_room, newest, pages_back):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=viewer_state)
    context.add_init_script(f"window.__benchTarget = {int(newest)};")
    context.add_init_script(INSTRUMENT_JS)
    page = context.new_page()
    try:
        # Open: the page remembers the room; reload it and time the newest message's arrival.
        page.goto(url + "/?lang=en")
        open_room(page, room)
        page.reload()
        newest_item = page.locator(f'#messages li[data-id="{newest}"]')
        expect(newest_item).to_be_attached(timeout=30_000)
        shown = page.evaluate("() => window.__bench.shown ?? performance.now()")
        phases = page.evaluate(
            "() => ({dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
            " connected: window.__bench.connected})"
        )
        try:
            expect(newest_item).to_be_in_viewport(timeout=10_000)
            in_view = round(page.evaluate("() => performance.now()"), 1)
        except AssertionError:  # the page did not scroll to it: a bug to report, not a number
            in_view = None
        opened = page.evaluate(COUNTS_JS)

        # Switch: to the other room and back by the sidebar.
        open_room(page, other_room)
        page.evaluate("() => { window.__bench.shown = null; window.__bench.t0 = performance.now(); }")
        room_entry(page, room).click()
        expect(newest_item).to_be_attached(timeout=30_000)
        switched = page.evaluate("() => (window.__bench.shown ?? performance.now()) - window.__bench.t0")
        page.wait_for_timeout(300)

        # Scroll back: to the top of the log, pages_back times, each until older ones are in.
        page.evaluate("() => { window.__bench.longtasks = []; }")
        loads = []
        for _ in range(pages_back):
            oldest = page.evaluate(OLDEST_JS)
            t0 = time.perf_counter()
            page.evaluate(SCROLL_TOP_JS)
            try:
                page.wait_for_function(f"() => ({OLDEST_JS})() < {oldest}", timeout=15_000, polling="raf")
            except Exception:  # noqa: BLE001 - no older page came: the start of the room, or a stall
                loads.append(None)
                break
            loads.append(round((time.perf_counter() - t0) * 1000, 1))
        longtasks = page.evaluate("() => window.__bench.longtasks")
        after = page.evaluate(COUNTS_JS)
        return {
            "page_dom_ready_ms": round(phases["dcl"], 1),
            "socket_connected_ms": round(phases["connected"], 1) if phases["connected"] else None,
            "open_newest_in_dom_ms": round(shown, 1),
            "open_newest_in_view_ms": in_view,
            "switch_newest_in_dom_ms": round(switched, 1),
            "dom_elements_open": opened["elements"],
            "log_items_open": opened["items"],
            "older_page_ms": loads,
            "dom_elements_after_scroll": after["elements"],
            "log_items_after_scroll": after["items"],
            "longtasks_while_scrolling": len(longtasks),
            "longest_task_ms": round(max((d for _, d in longtasks), default=0), 1),
        }
    finally:
        context.close()


def viewer_state(browser, url, name, rooms):
    """A registered member of the rooms (through the login page), as a storage state."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url + "/?lang=en")
    page.locator("#register-name").fill(name)
    page.locator("#register-password").fill(PASSWORD)
    page.locator("#register-confirm").fill(PASSWORD)
    page.locator("#register-confirm").press("Enter")
    expect(page.locator("#me")).to_have_text(name)
    for room in rooms:
        join(page, room)
    state = context.storage_state()
    context.close()
    return state


def summary(rows):
    def median(key):
        values = [r[key] for r in rows if r[key] is not None]
        return statistics.median(values) if values else None

    loads = [ms for r in rows for ms in r["older_page_ms"] if ms is not None]
    return {
        "rounds": len(rows),
        "newest_not_in_view": sum(r["open_newest_in_view_ms"] is None for r in rows),
        "page_dom_ready_ms": median("page_dom_ready_ms"),
        "socket_connected_ms": median("socket_connected_ms"),
        "open_newest_in_dom_ms": median("open_newest_in_dom_ms"),
        "open_newest_in_view_ms": median("open_newest_in_view_ms"),
        "switch_newest_in_dom_ms": median("switch_newest_in_dom_ms"),
        "dom_elements_open": median("dom_elements_open"),
        "log_items_open": median("log_items_open"),
        "older_page_ms_median": statistics.median(loads) if loads else None,
        "older_page_ms_max": max(loads) if loads else None,
        "dom_elements_after_scroll": median("dom_elements_after_scroll"),
        "log_items_after_scroll": median("log_items_after_scroll"),
        "longtasks_while_scrolling": median("longtasks_while_scrolling"),
        "longest_task_ms": max(r["longest_task_ms"] for r in rows),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages-back", type=int, default=10, help="scroll-backs to the top per round")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    database = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='page-bench-')}/chat.db"
    server = servers.gunicorn("eventlet", env={"DATABASE_URL": database}).start()
    room, other_room = "long-history", "short-room"
    people = []
    try:
        people, newest = fill_room(server.url, room, args.messages)
        people[0].join(other_room).say(other_room, "a short room to switch from")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            state = viewer_state(browser, server.url, "reader", [other_room, room])
            rows = []
            for n in range(args.rounds):
                row = one_round(browser, server.url, state, room, other_room, newest, args.pages_back)
                print(json.dumps({"round": n + 1, **row}))
                rows.append(row)
            browser.close()
        load = os.getloadavg()
        print(
            json.dumps(
                {
                    "summary": summary(rows),
                    "messages": args.messages,
                    "database": database.split(":")[0],
                    "loadavg": load,
                }
            )
        )
    finally:
        for person in people:
            person.close()
        server.stop()


if __name__ == "__main__":
    main()
