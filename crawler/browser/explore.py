"""Exploring a rendered page: its timers, its infinite scroll and its events.

Runs inside :meth:`crawler.browser.session.BrowserSession.render`, on the page
just loaded, with the hooks of :mod:`crawler.browser.pagehooks` installed
before the page's scripts (Chromium only: DevTools install them).  Each step
diffs the live DOM's ``a[href]``/``area[href]`` URLs before and after, and
returns the new ones as :class:`~crawler.items.Link` with their ``found_via``:

1. **timers** (:func:`timer_links`, ``SELENIUM_TIMER_BUDGET`` seconds of page
   time, default 10): every timer due within the budget fires now, in order,
   the page's clocks jumping to each due time; the render waits for the
   requests they start.  A link written 5 s after load is found in
   milliseconds → ``timer``;
2. **scrolling** (:func:`scroll_links`, ``CRAWLER_EXPLORE_MAX_SCROLLS`` steps):
   only on pages something listens to (a scroll or wheel listener, an
   ``IntersectionObserver``) and that are taller than the window: scroll to
   the bottom, wait for what it starts, again while the page grows, requests
   something or shows new links → ``scroll``;
3. **events** (:func:`event_links`, ``CRAWLER_EXPLORE=safe``): what a user could
   click, hover or change (see :data:`SCAN_JS`), fired one by one, each with
   navigations, new windows and non-GET requests intercepted in the page (the
   Navigation API's cancellable ``navigate`` event): the URL it would have
   gone to, the links it made appear and the GET requests it sent → ``event``,
   with the event as the link's text (``click button#next``).

**Fresh copies.** An event fires on the page as it is when nothing has changed
it; once an event changed the DOM or the URL (a pager that replaced the list,
a ``pushState``), the page is loaded again (and its timers advanced again)
before the next event, so each event sees the page as a user arriving would.
Most handlers that navigate are cancelled before they change anything, so a
page of links-by-click costs no reload.

**Safety** (:mod:`crawler.safety`): an element whose text, value, title,
``aria-label``, id, class, name, inline handler, ``href``/``formaction`` or
form action matches the danger pattern is never fired, whatever the settings
(``explore/skipped_dangerous``); nor anything in a form with a password field
(``explore/skipped_login``), nor a submit button of a POST form unless the
form policy (``CRAWLER_FORMS=all`` or ``CRAWLER_SUBMIT_FORMS``) allows POST
(``explore/skipped_post``); requests other than GET/HEAD that an event's
handler sends are refused in the page unless POST is allowed
(``explore/requests_refused``), and a POST navigation is never followed.

**Budgets.** ``CRAWLER_EXPLORE_MAX_EVENTS`` per page, ``..._PER_TYPE`` per page
type (:func:`crawler.browser.rendermode.url_pattern`) over the crawl,
``CRAWLER_EXPLORE_TIME_BUDGET`` seconds per page; handlers with the same
source, or delegated handlers with the same selector, fire once per page
(``explore/skipped_duplicate``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crawler.browser.rendermode import url_pattern
from crawler.exceptions import BrowserConfigError
from crawler.forms.policy import FormPolicy
from crawler.items import FoundVia, Link
from crawler.safety import danger_pattern, matches
from crawler.settingscheck import check_types, setting_choices

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.settings import BaseSettings
    from selenium.webdriver.remote.webdriver import WebDriver

logger = logging.getLogger(__name__)

EXPLORE_MODES = setting_choices("CRAWLER_EXPLORE")  # none, safe
_SETTINGS = ("CRAWLER_EXPLORE", "CRAWLER_DANGER_PATTERN")

MAX_TIMER_FIRES = 2000  # timers fired per render at most (a fast setInterval)
EVENT_WAIT_MS = 1500  # real ms an event's requests and short timers get
EVENT_TIMER_MS = 2000  # page ms of timers an event's handler may start
SCROLL_WAIT_MS = 600  # real ms a scroll step waits for the page to react

# The live DOM's link URLs (a private snapshot, for diffs).
LINKS_JS = "return Array.from(document.querySelectorAll('a[href],area[href]'), a => a.href);"

# arguments: limit (page ms), most fires, whether to return the links before advancing
ADVANCE_JS = """
const done = arguments[arguments.length - 1];
const H = window.__crawlerHooks;
if (!H) { done(null); return; }
const links = arguments[2] ?
  Array.from(document.querySelectorAll('a[href],area[href]'), (a) => a.href) : null;
H.advance(arguments[0], arguments[1]).then((r) => done({...r, links}), () => done(null));
"""

PENDING_JS = "const H = window.__crawlerHooks; return H ? H.pending : 0;"

SCROLL_STATE_JS = """
const H = window.__crawlerHooks;
const d = document.documentElement;
let listens = false;
if (H) for (const [target, list] of H.listeners)
  if (list.some((l) => l.type === 'scroll' || l.type === 'wheel')) { listens = true; break; }
return {height: Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0),
        viewport: window.innerHeight,
        reactive: listens || !!(H && H.observers) || typeof window.onscroll === 'function'};
"""

SCROLL_STEP_JS = """
const done = arguments[arguments.length - 1];
const wait = arguments[0];
const H = window.__crawlerHooks;
const d = document.documentElement;
const height = () => Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0);
const links = () => document.querySelectorAll('a[href],area[href]').length;
const h0 = height(), l0 = links(), r0 = H.requests.length;
window.scrollTo(0, height());
window.dispatchEvent(new Event('scroll'));
(async () => {
  const start = H.realNow();
  let changed = false;
  while (H.realNow() - start < wait) {
    await H.sleep(30);
    if (H.pending > 0) continue;
    await H.advance(H.now() + 300, 50);  // debounced scroll handlers
    changed = height() > h0 || links() > l0 || H.requests.length > r0;
    if (changed && H.pending === 0) break;
  }
  done({changed, height: height(), requests: H.requests.length - r0});
})();
"""

# What a user could click, hover or change, with what the safety check reads.
SCAN_JS = r"""
const H = window.__crawlerHooks;
const CLICK = ['click', 'dblclick', 'mousedown', 'mouseup', 'pointerdown', 'pointerup',
  'touchstart'];
const HOVER = ['mouseover', 'mouseenter', 'pointerover', 'pointerenter'];
const CHANGE = ['change', 'input'];
const path = (el) => {
  const parts = [];
  for (let e = el; e && e.nodeType === 1 && e !== document.documentElement; e = e.parentElement) {
    let i = 1;
    for (let s = e.previousElementSibling; s; s = s.previousElementSibling)
      if (s.tagName === e.tagName) i++;
    parts.unshift(e.tagName.toLowerCase() + ':nth-of-type(' + i + ')');
  }
  return ['html', ...parts].join(' > ');
};
const label = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) return s + '#' + el.id;
  if (el.classList.length) return s + '.' + [...el.classList].slice(0, 2).join('.');
  const name = el.getAttribute('name');
  if (name) return s + '[name=' + name + ']';
  const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 30);
  return text ? s + ' "' + text + '"' : s;
};
const realHref = (a) => a && /^https?:/i.test(a.href) && !/^#/.test(a.getAttribute('href') || '#');
const found = new Map();
const add = (el, kind, signature, priority) => {
  if (!(el instanceof Element) || el === document.documentElement || el === document.body) return;
  // not shown: no user clicks it
  if (kind !== 'select' && el.getClientRects().length === 0) return;
  const key = path(el) + ' ' + kind;
  if (found.has(key)) return;
  const form = el.form || el.closest('form');
  const link = el.closest('a[href]');
  const valued = /^(INPUT|BUTTON|SELECT|OPTION)$/.test(el.tagName);
  const type = (el.getAttribute('type') || '').toLowerCase();
  found.set(key, {
    path: path(el), kind, signature, priority, label: label(el), tag: el.tagName.toLowerCase(),
    text: (el.innerText || el.textContent || '').trim().slice(0, 200),
    value: valued ? String(el.value || '').slice(0, 200) : '',
    title: el.getAttribute('title') || '', aria: el.getAttribute('aria-label') || '',
    id: el.id || '', cls: el.getAttribute('class') || '', name: el.getAttribute('name') || '',
    handlers: [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.value)
      .join(' ').slice(0, 1000),
    href: link ? link.href : '', formaction: el.getAttribute('formaction') ? el.formAction : '',
    form: form ? {action: form.action, method: (form.getAttribute('method') || 'get').toLowerCase(),
                  password: !!form.querySelector('input[type=password]')} : null,
    submit: !!form && ((el.tagName === 'BUTTON' && (type || 'submit') === 'submit') ||
                       (el.tagName === 'INPUT' && (type === 'submit' || type === 'image'))),
    password: el.tagName === 'INPUT' && type === 'password',
    options: el.tagName !== 'SELECT' ? null : [...el.options].map(
      (o) => [o.index, o.value, o.text.trim().slice(0, 100), o.selected]),
  });
};
const kindOf = (el, type) => CHANGE.includes(type) ? (el.tagName === 'SELECT' ? 'select' : null)
  : HOVER.includes(type) ? 'hover' : CLICK.includes(type) ? 'click' : null;
const delegated = [];  // [root, type, selector]
if (H) for (const [target, list] of H.listeners) {
  const el = target === window || target === document ? document.body : target;
  if (!(el instanceof Element)) continue;
  for (const l of list) {
    const kind = kindOf(el, l.type);
    if (kind) add(el, kind, 'L:' + l.type + ':' + l.source, 0);
    if (!el.firstElementChild) continue;
    for (const m of l.source.matchAll(/(['"`])((?:\\.|(?!\1)[^\\\n])+)\1/g))
      delegated.push([el, l.type, m[2]]);
  }
}
if (window.jQuery && window.jQuery._data) for (const root of [document, document.body]) {
  const events = window.jQuery._data(root, 'events') || {};
  for (const type of Object.keys(events)) for (const h of events[type])
    if (h.selector) delegated.push([document.body, type, h.selector]);
}
for (const [root, type, selector] of delegated) {
  let matched;
  try { matched = root.querySelectorAll(selector); } catch (e) { continue; }
  for (const el of matched) {
    const kind = el.tagName === 'SELECT' && CHANGE.includes(type) ? 'select' : kindOf(el, type);
    if (kind === 'click' && el.tagName === 'A' && realHref(el)) continue;  // a link already
    if (kind) add(el, kind, 'D:' + type + ':' + selector, 0);
  }
}
for (const el of document.querySelectorAll('*')) {
  for (const type of [...CLICK, ...HOVER, ...CHANGE]) {
    const handler = el['on' + type];
    if (typeof handler !== 'function') continue;
    const kind = kindOf(el, type);
    const source = el.getAttribute('on' + type) || String(handler);
    if (kind) add(el, kind, 'I:' + type + ':' + source, 0);
  }
}
for (const el of document.querySelectorAll('a:not([href]), a[href^="javascript:" i]'))
  add(el, 'click', 'A:' + (el.getAttribute('href') || path(el)), 1);
for (const el of document.querySelectorAll('button, input[type=button]'))
  if (!(el.form || el.closest('form'))) add(el, 'click', 'B:' + path(el), 1);
for (const el of document.querySelectorAll('select'))
  if (!(el.form || el.closest('form'))) add(el, 'select', 'S:' + path(el), 1);
return [...found.values()];
"""

FIRE_JS = r"""
const done = arguments[arguments.length - 1];
const [target, kind, option, wait, timerMs] = arguments;
const H = window.__crawlerHooks;
const el = H && document.querySelector(target);
if (!el) { done({missing: true}); return; }
const snapshot = () => new Set(
  Array.from(document.querySelectorAll('a[href],area[href]'), (a) => a.href));
const before = snapshot();
const start = location.href;
const first = H.requests.length;
H.navigations = []; H.opened = []; H.refused = [];
let mutations = 0;
const observer = new MutationObserver((records) => { mutations += records.length; });
observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
H.exploring = true;
let error = null;
try {
  const init = {bubbles: true, cancelable: true, view: window};
  if (kind === 'hover') {
    for (const t of ['pointerover', 'pointerenter', 'mouseover', 'mouseenter', 'mousemove'])
      el.dispatchEvent(new MouseEvent(t, {...init, bubbles: !t.endsWith('enter')}));
  } else if (kind === 'select') {
    el.selectedIndex = option;
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true}));
  } else {
    for (const t of ['pointerdown', 'mousedown', 'pointerup', 'mouseup'])
      el.dispatchEvent(new MouseEvent(t, init));
    if (typeof el.click === 'function') el.click();
    else el.dispatchEvent(new MouseEvent('click', init));
  }
} catch (e) { error = String(e).slice(0, 200); }
(async () => {
  const t0 = H.realNow();
  let seen = -1;
  while (H.realNow() - t0 < wait) {
    await H.sleep(20);
    if (H.pending > 0) continue;
    await H.advance(H.now() + timerMs, 200);
    if (H.pending === 0 && mutations === seen) break;  // quiet for one round
    seen = mutations;
  }
  H.exploring = false;
  observer.disconnect();
  const after = snapshot();
  done({links: [...after].filter((u) => !before.has(u)), navigations: H.navigations,
        opened: H.opened, refused: H.refused.length, error,
        requests: H.requests.slice(first).filter((r) => r.exploring),
        dirty: mutations > 0 || location.href !== start});
})();
"""


@dataclass(frozen=True)
class ExploreConfig:
    """``CRAWLER_EXPLORE`` and its budgets, the danger pattern and whether POST is allowed."""

    mode: str
    max_events: int
    max_events_per_type: int
    max_scrolls: int
    time_budget: float  # seconds of events per page
    danger: str  # crawler.safety.danger_pattern(...)
    forms: FormPolicy

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ExploreConfig:
        """Raises :class:`BrowserConfigError` for a bad ``CRAWLER_EXPLORE*`` value or
        danger pattern (and :class:`FormConfigError` for a bad form setting)."""
        check_types(settings, _SETTINGS, error=BrowserConfigError)
        forms = FormPolicy.from_settings(settings)
        return cls(
            mode=settings.get("CRAWLER_EXPLORE"),
            max_events=settings.getint("CRAWLER_EXPLORE_MAX_EVENTS"),
            max_events_per_type=settings.getint("CRAWLER_EXPLORE_MAX_EVENTS_PER_TYPE"),
            max_scrolls=settings.getint("CRAWLER_EXPLORE_MAX_SCROLLS"),
            time_budget=settings.getfloat("CRAWLER_EXPLORE_TIME_BUDGET"),
            danger=danger_pattern(
                settings.get("CRAWLER_LOGOUT_PATTERN"), settings.get("CRAWLER_DANGER_PATTERN")
            ),
            forms=forms,
        )

    def allows_post(self, action: str) -> bool:
        return self.forms.mode == "all" or self.forms.allows_post(action)


class Exploration:
    """The crawl's exploration: its config and the events fired per page type so far.

    One per crawl (the Selenium middleware makes it), shared by every browser
    session's thread: :meth:`take` is thread-safe.
    """

    def __init__(self, config: ExploreConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._per_type: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Exploration | None:
        """``None`` when ``CRAWLER_EXPLORE`` is ``none``."""
        config = ExploreConfig.from_settings(settings)
        return None if config.mode == "none" else cls(config)

    def take(self, page_url: str) -> bool:
        """Count one event for the page's type; False when its type's budget is spent."""
        kind = url_pattern(page_url)
        with self._lock:
            if self._per_type[kind] >= self.config.max_events_per_type:
                return False
            self._per_type[kind] += 1
            return True


def live_link_urls(driver: WebDriver) -> list[str]:
    urls = driver.execute_script(LINKS_JS)
    return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []


def _new_links(before: set[str], after: list[str], found_via: FoundVia, text: str) -> list[Link]:
    fresh = [u for u in dict.fromkeys(after) if u not in before and u.startswith("http")]
    return [Link(url, found_via, text) for url in fresh]


def wait_requests(driver: WebDriver, timeout: float) -> bool:
    """Wait until the page has no fetch/XHR in flight; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pending = driver.execute_script(PENDING_JS)
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.03)


def advance_timers(
    driver: WebDriver, budget: float, wait_timeout: float, before: list[str] | None = None
) -> int:
    """Fire the page's timers due within ``budget`` seconds of page time (from the
    navigation's start), waiting for the requests they start; how many fired.
    With a ``before`` list, the page's link URLs before any timer fired are put in it
    (read in the same script call: a page without timers costs one call).

    0 without the hooks (no DevTools, or switched off)."""
    limit = budget * 1000
    fired = 0
    for _ in range(100):  # rounds: timers, then the requests they started, then timers...
        answer = driver.execute_async_script(
            ADVANCE_JS, limit, MAX_TIMER_FIRES - fired, before is not None and not fired
        )
        if not isinstance(answer, dict):
            return fired
        if before is not None and isinstance(answer.get("links"), list):
            before[:] = [u for u in answer["links"] if isinstance(u, str)]
        fired += int(answer.get("fired") or 0)
        if answer.get("waiting"):
            if not wait_requests(driver, wait_timeout):
                return fired  # a long poll: the DOM is read as it is
            continue
        if not answer.get("fired") or fired >= MAX_TIMER_FIRES:
            return fired
        wait_requests(driver, wait_timeout)
    return fired


def timer_links(
    driver: WebDriver, budget: float, wait_timeout: float, counters: Counter[str]
) -> list[Link]:
    """Advance the page's timers (:func:`advance_timers`); the links they wrote → ``timer``."""
    before: list[str] = []
    fired = advance_timers(driver, budget, wait_timeout, before)
    if not fired:
        return []
    counters["explore/timers_fired"] += fired
    links = _new_links(set(before), live_link_urls(driver), FoundVia.TIMER, "timer")
    counters["explore/timer_links"] += len(links)
    return links


def scroll_links(
    driver: WebDriver, max_steps: int, wait_timeout: float, counters: Counter[str]
) -> list[Link]:
    """Scroll while the page reacts (new height, links or requests), at most
    ``max_steps`` times; the links that appeared → ``scroll``."""
    if max_steps <= 0:
        return []
    state = driver.execute_script(SCROLL_STATE_JS)
    if not state or not state["reactive"] or state["height"] <= state["viewport"] + 2:
        return []
    before = set(live_link_urls(driver))
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007 - the count is reported
        answer = driver.execute_async_script(SCROLL_STEP_JS, SCROLL_WAIT_MS)
        wait_requests(driver, wait_timeout)
        if not answer or not answer.get("changed"):
            break
    else:
        counters["explore/scroll_budget_exhausted"] += 1
    counters["explore/scroll_steps"] += steps
    links = _new_links(before, live_link_urls(driver), FoundVia.SCROLL, "scroll")
    counters["explore/scroll_links"] += len(links)
    return links


@dataclass(frozen=True)
class Event:
    kind: str  # click | hover | select
    path: str  # CSS path of the element in the page
    option: int  # select: the option's index; else -1
    text: str  # how it is recorded: "click button#next"


def plan_events(
    candidates: list[dict[str, Any]], config: ExploreConfig, counters: Counter[str]
) -> list[Event]:
    """The candidates :data:`SCAN_JS` found, safe and deduplicated, handlers first."""
    events: list[Event] = []
    signatures: set[str] = set()
    for c in sorted(candidates, key=lambda c: c.get("priority", 1)):
        form = c.get("form") or {}
        urls = [c.get("href") or "", c.get("formaction") or "", form.get("action") or ""]
        texts = [str(c.get(k) or "") for k in ("text", "value", "title", "aria", "id", "cls")]
        texts += [str(c.get("name") or ""), str(c.get("handlers") or "")]
        if matches(config.danger, urls, texts):
            counters["explore/skipped_dangerous"] += 1
            continue
        if c.get("password") or form.get("password"):
            counters["explore/skipped_login"] += 1
            continue
        action = c.get("formaction") or form.get("action") or ""
        if c.get("submit") and form.get("method") == "post" and not config.allows_post(action):
            counters["explore/skipped_post"] += 1
            continue
        signature = str(c.get("signature"))
        if signature in signatures:
            counters["explore/skipped_duplicate"] += 1
            continue
        signatures.add(signature)
        name = str(c.get("label") or c.get("tag") or "element")
        if c.get("kind") == "select":
            for index, value, text, selected in c.get("options") or []:
                if selected:
                    continue
                if matches(config.danger, [str(value)], [str(value), str(text)]):
                    counters["explore/skipped_dangerous"] += 1
                    continue
                events.append(Event("select", c["path"], int(index), f"change {name}={value}"))
        else:
            events.append(Event(str(c["kind"]), c["path"], -1, f"{c['kind']} {name}"))
    return events


def event_links(
    driver: WebDriver,
    page_url: str,
    exploration: Exploration,
    reload: Callable[[], None],
    counters: Counter[str],
) -> list[Link]:
    """Fire the page's safe events (:func:`plan_events`) within the budgets; what
    each revealed → ``event`` links.  ``reload()`` loads a fresh copy of the page
    (and advances its timers) after an event changed it."""
    # Here, not at the top: the settings side of this module (Exploration,
    # EXPLORE_MODES) is imported by every crawl, Selenium only by those that render.
    from selenium.common.exceptions import JavascriptException, TimeoutException

    config = exploration.config
    deadline = time.monotonic() + config.time_budget
    candidates = driver.execute_script(SCAN_JS)
    events = plan_events(candidates if isinstance(candidates, list) else [], config, counters)
    if not events:
        return []
    known = {*live_link_urls(driver), page_url.split("#", 1)[0]}
    found: dict[str, Link] = {}
    dirty = False
    fired = 0
    for event in events:
        if fired >= config.max_events:
            counters["explore/budget_exhausted"] += 1
            break
        if time.monotonic() >= deadline:
            counters["explore/time_budget_exhausted"] += 1
            break
        if not exploration.take(page_url):
            counters["explore/type_budget_exhausted"] += 1
            break
        if dirty:
            reload()
            counters["explore/reloads"] += 1
            dirty = False
        try:
            answer = driver.execute_async_script(
                FIRE_JS, event.path, event.kind, event.option, EVENT_WAIT_MS, EVENT_TIMER_MS
            )
        except (JavascriptException, TimeoutException) as e:
            # The page went away under the script (a navigation not cancelled).
            logger.debug("Event %s on %s: %s", event.text, page_url, e)
            counters["explore/navigated_away"] += 1
            dirty = True
            continue
        if not isinstance(answer, dict) or answer.get("missing"):
            counters["explore/missing"] += 1
            continue
        fired += 1
        counters["explore/fired"] += 1
        if answer.get("refused"):
            counters["explore/requests_refused"] += int(answer["refused"])
        urls = list(answer.get("links") or []) + list(answer.get("opened") or [])
        for navigation in answer.get("navigations") or []:
            if navigation.get("post"):
                counters["explore/post_navigations"] += 1
            else:
                urls.append(navigation.get("url"))
        urls += [r["url"] for r in answer.get("requests") or [] if r.get("method") == "GET"]
        for url in urls:
            if not isinstance(url, str) or not url.startswith("http"):
                continue
            url = url.split("#", 1)[0]
            if url not in known and url not in found:
                found[url] = Link(url, FoundVia.EVENT, event.text)
        dirty = bool(answer.get("dirty"))
    counters["explore/event_links"] += len(found)
    return list(found.values())
