"""The script installed in every document before the page's own scripts run.

Installed with Chromium's ``Page.addScriptToEvaluateOnNewDocument`` (once per
browser session, :class:`PageHooks`), it is passive until the render calls it
through ``window.__crawlerHooks`` (not enumerable):

* **time**: ``setTimeout``/``setInterval`` are wrapped so that every pending
  timer is known with its due time in page time (``performance.now()``
  milliseconds).  Timers run in real time as usual until the render calls
  ``advance(limit, maxFires)``: then the due timers up to ``limit`` fire one
  task at a time in due order, the page's clocks (``Date``, ``Date.now``,
  ``performance.now``) jumping forward to each timer's due time, so a timer at
  5 s of page time fires a few milliseconds after the call and sees 5 s on
  every clock.  It stops early (``waiting: true``) while a fetch or XHR is in
  flight, as a real page would wait for the answer; the render waits and calls
  again.  Chromium's own virtual time (``Emulation.setVirtualTimePolicy``) does
  the same natively, but once its budget is spent time stays paused for the
  tab, so the next page load in the session hangs (measured on Chromium 156,
  headless=new): not usable in a browser that renders many pages.
* **listeners**: ``addEventListener`` calls for click, mouse, pointer, change,
  input and scroll events are recorded per target (type and handler source),
  for :mod:`crawler.browser.explore` to find what a user could click;
  ``IntersectionObserver`` constructions are counted (infinite scroll).
* **requests**: every ``fetch``/``XMLHttpRequest`` is recorded (method, URL) and
  counted while in flight.  While ``exploring`` is true, requests that are not
  GET or HEAD are refused (unless ``allowPost``), ``sendBeacon`` is refused,
  navigations (link clicks, ``location`` changes, form submissions) are
  recorded and cancelled through the Navigation API's ``navigate`` event, and
  ``window.open`` is recorded and opens nothing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from selenium.common.exceptions import WebDriverException

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

HOOKS_JS = r"""
(() => {
  if (window.__crawlerHooks) return;
  const H = {exploring: false, allowPost: false, navigations: [], opened: [], requests: [],
             refused: [], pending: 0, observers: 0};
  Object.defineProperty(window, '__crawlerHooks', {value: H, enumerable: false});
  const nSetTimeout = window.setTimeout.bind(window);
  const nClearTimeout = window.clearTimeout.bind(window);
  const NDate = Date, nDateNow = Date.now.bind(Date);
  const nPerfNow = performance.now.bind(performance);
  let offset = 0;  // ms the page's clocks are ahead of the real ones
  const pageNow = () => nPerfNow() + offset;
  H.now = pageNow;
  H.realNow = nPerfNow;
  H.sleep = (ms) => new Promise((resolve) => nSetTimeout(resolve, ms));
  // -- timers --
  const timers = new Map();
  let nextId = 1;
  const run = (fn, args) => {
    if (typeof fn === 'function') fn.apply(window, args);
    else if (fn != null) (0, eval)(String(fn));
  };
  const schedule = (t) => {
    t.native = nSetTimeout(() => fire(t.id), Math.max(0, t.due - pageNow()));
  };
  const fire = (id) => {
    const t = timers.get(id);
    if (!t) return;
    if (t.interval === null) timers.delete(id);
    else { t.due += t.interval; schedule(t); }
    run(t.fn, t.args);
  };
  const add = (fn, delay, args, repeat) => {
    const ms = Math.max(0, Number(delay) || 0);
    const t = {id: nextId++, fn, args, due: pageNow() + ms,
               interval: repeat ? Math.max(ms, 4) : null};
    timers.set(t.id, t);
    schedule(t);
    return t.id;
  };
  const clear = (id) => {
    const t = timers.get(id);
    if (t) { nClearTimeout(t.native); timers.delete(id); }
  };
  window.setTimeout = function (fn, delay, ...args) { return add(fn, delay, args, false); };
  window.setInterval = function (fn, delay, ...args) { return add(fn, delay, args, true); };
  window.clearTimeout = clear;
  window.clearInterval = clear;
  function FakeDate(...a) {
    if (!new.target) return new NDate(FakeDate.now()).toString();
    return a.length ? new NDate(...a) : new NDate(FakeDate.now());
  }
  FakeDate.prototype = NDate.prototype;
  FakeDate.now = () => Math.floor(nDateNow() + offset);
  FakeDate.parse = NDate.parse;
  FakeDate.UTC = NDate.UTC;
  window.Date = FakeDate;
  performance.now = pageNow;
  H.advance = (limit, maxFires) => new Promise((resolve) => {
    let fired = 0;
    const finish = (waiting) => {
      for (const t of timers.values()) { nClearTimeout(t.native); schedule(t); }
      resolve({fired, waiting, now: pageNow(), pending: timers.size});
    };
    const step = () => {
      if (H.pending > 0) return finish(true);
      let next = null;
      for (const t of timers.values()) if (next === null || t.due < next.due) next = t;
      if (next === null || next.due > limit || fired >= maxFires) return finish(false);
      const now = pageNow();
      // a whole millisecond past the due time: Date.now() floors, and a real
      // timer never fires before its delay has passed on either clock
      if (next.due > now) offset += Math.ceil(next.due - now) + 1;
      nClearTimeout(next.native);
      fired += 1;
      try { fire(next.id); } catch (e) { nSetTimeout(() => { throw e; }, 0); }
      nSetTimeout(step, 0);
    };
    step();
  });
  // -- listeners --
  const TYPES = new Set(['click', 'dblclick', 'mousedown', 'mouseup', 'mouseover', 'mouseenter',
    'pointerdown', 'pointerup', 'pointerover', 'pointerenter', 'touchstart', 'change', 'input',
    'scroll', 'wheel']);
  H.listeners = new Map();  // target -> [{type, source}]
  const nAdd = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    try {
      if (listener && TYPES.has(type)) {
        let list = H.listeners.get(this);
        if (!list) { list = []; H.listeners.set(this, list); }
        const fn = typeof listener === 'function' ? listener : listener.handleEvent;
        list.push({type, source: String(fn).slice(0, 2000)});
      }
    } catch (e) { /* never break the page */ }
    return nAdd.call(this, type, listener, options);
  };
  if (window.IntersectionObserver) {
    const NIO = window.IntersectionObserver;
    window.IntersectionObserver = function (...a) { H.observers += 1; return new NIO(...a); };
    window.IntersectionObserver.prototype = NIO.prototype;
  }
  // -- requests --
  const allowed = (method) => !H.exploring || H.allowPost || /^(GET|HEAD)$/i.test(method || 'GET');
  const nFetch = window.fetch;
  if (nFetch) window.fetch = function (input, init) {
    let method = (init && init.method) || (input && input.method) || 'GET';
    const given = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
    const url = new URL(given, location.href).href;
    method = String(method).toUpperCase();
    if (!allowed(method)) {
      H.refused.push({method, url});
      return Promise.reject(new TypeError('refused by the crawler'));
    }
    H.requests.push({method, url, exploring: H.exploring});
    H.pending += 1;
    return nFetch.apply(this, arguments).finally(() => { H.pending -= 1; });
  };
  const XHR = XMLHttpRequest.prototype, nOpen = XHR.open, nSend = XHR.send;
  XHR.open = function (method, url, ...rest) {
    this.__crawler = {method: String(method).toUpperCase(), url: new URL(url, location.href).href};
    return nOpen.call(this, method, url, ...rest);
  };
  XHR.send = function (...a) {
    const r = this.__crawler || {method: 'GET', url: ''};
    if (!allowed(r.method)) { H.refused.push(r); return; }
    H.requests.push({method: r.method, url: r.url, exploring: H.exploring});
    H.pending += 1;
    nAdd.call(this, 'loadend', () => { H.pending -= 1; });
    return nSend.apply(this, a);
  };
  if (navigator.sendBeacon) {
    const nBeacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, data) => {
      if (H.exploring && !H.allowPost) {
        H.refused.push({method: 'POST', url: String(url)});
        return false;
      }
      return nBeacon(url, data);
    };
  }
  // -- navigations --
  if (window.navigation) nAdd.call(window.navigation, 'navigate', (e) => {
    if (!H.exploring) return;
    H.navigations.push({url: e.destination.url, post: !!e.formData});
    if (e.cancelable) e.preventDefault();
  });
  const nOpenWindow = window.open;
  window.open = function (url, ...rest) {
    if (!H.exploring) return nOpenWindow.call(window, url, ...rest);
    if (url) H.opened.push(new URL(String(url), location.href).href);
    return null;
  };
})();
"""


class PageHooks:
    """The hooks script of one browser session: installed once, kept for every page."""

    def __init__(self) -> None:
        self._identifier: str | None = None

    @property
    def installed(self) -> bool:
        return self._identifier is not None

    def ensure(self, driver: WebDriver, wanted: bool) -> None:
        """Install (``wanted``) or remove the script for the documents loaded from now on.

        Raises ``WebDriverException`` when DevTools fail (the session's owner
        translates it like any render failure)."""
        if wanted and self._identifier is None:
            answer = driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": HOOKS_JS}
            )
            self._identifier = str(answer["identifier"])
        elif not wanted and self._identifier is not None:
            with contextlib.suppress(WebDriverException):  # else later pages keep passive hooks
                driver.execute_cdp_cmd(
                    "Page.removeScriptToEvaluateOnNewDocument", {"identifier": self._identifier}
                )
            self._identifier = None
