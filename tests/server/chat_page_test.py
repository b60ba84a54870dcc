#!/usr/bin/python3
"""Drives agentrt-server's chat page in headless Chromium over the DevTools protocol.

Usage: chat_page_test.py BASE_URL [--screenshot PATH] [--token TOKEN]

BASE_URL is a running server (e.g. http://127.0.0.1:8080). The test starts no process but
Chromium, in a fresh profile it removes on every exit path. Steps:
  a  tab 1, agent `assistant`: "my name is Ada" streams "Nice to meet you, Ada." token by token
  b  reloading tab 1 shows that history under the same session id
  c  tab 1 (Ada) and tab 2 (a new session, Bob) send at once; neither ever shows the other's name
  d  "count to 200", then Stop: the turn ends cancelled and Send is enabled again
  e  tab 3 reaches the server through a proxy in this test that cuts every connection
     mid-turn: the page shows "reconnecting", EventSource resumes the same call
     (Last-Event-ID), no text is shown twice and the session got one turn, not two
With --token the server was started with that token: the page must ask for it (once per
tab), and the test answers.
Needs Python 3.9+ and aiohttp; nothing else.
"""

import argparse
import asyncio
import base64
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import aiohttp

STEP_TIMEOUT = 15.0   # every wait for the page
TOTAL_TIMEOUT = 90.0  # the whole test
POLL = 0.05


class Failure(Exception):
    """A check that did not hold; the message says which step."""


class CdpError(Exception):
    """The browser answered a command with an error."""


# --- Chromium ----------------------------------------------------------------------------

class Chromium:
    """A headless Chromium in its own process group and temporary profile."""

    def __init__(self):
        self.tmp = None
        self.proc = None
        self.stderr_tail = collections.deque(maxlen=40)
        self._ws_url = None
        self._have_url = threading.Event()

    async def start(self):
        binary = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
        if not binary:
            raise Failure('no chromium on PATH')
        self.tmp = tempfile.mkdtemp(prefix='agentrt-chat-page-')
        profile = os.path.join(self.tmp, 'profile')
        env = dict(os.environ, TMPDIR=self.tmp)  # Chromium's own temp files die with ours
        self.proc = subprocess.Popen(
            [binary, '--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-port=0',
             f'--user-data-dir={profile}', '--no-first-run', '--no-default-browser-check',
             '--disable-extensions', '--disable-background-networking', '--disable-breakpad',
             '--disable-crash-reporter', '--mute-audio', '--disable-renderer-backgrounding',
             '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
             'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, start_new_session=True)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.monotonic() + 20
        while not self._have_url.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(POLL)
        if not self._ws_url:
            raise Failure('chromium did not print its DevTools address within 20 s:\n'
                          + '\n'.join(self.stderr_tail))
        return self._ws_url

    def _read_stderr(self):
        prefix = 'DevTools listening on '
        for raw in self.proc.stderr:
            line = raw.decode('utf-8', 'replace').rstrip()
            self.stderr_tail.append(line)
            if line.startswith(prefix) and not self._have_url.is_set():
                self._ws_url = line[len(prefix):].strip()
                self._have_url.set()
        self._have_url.set()  # it exited: stop waiting

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # helpers left in its group
            except (ProcessLookupError, PermissionError):
                pass
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- a proxy that can fail -----------------------------------------------------------------

class CuttingProxy:
    """Forwards TCP connections to the server; cut() aborts every open one, as a network
    failure would."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.server = None
        self.pairs = set()

    async def start(self):
        self.server = await asyncio.start_server(self._serve, '127.0.0.1', 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.port)
        except OSError:
            client_w.transport.abort()
            return
        pair = (client_w, server_w)
        self.pairs.add(pair)

        async def pipe(src, dst):
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if dst.transport:
                    dst.transport.abort()  # one side gone: drop the other at once

        try:
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        finally:
            self.pairs.discard(pair)

    def cut(self):
        for a, b in list(self.pairs):
            a.transport.abort()
            b.transport.abort()
        return len(self.pairs)

    async def close(self):
        if self.server:
            self.server.close()
        self.cut()


# --- the DevTools protocol ---------------------------------------------------------------

class Cdp:
    """One browser websocket; pages are flattened sessions on it."""

    def __init__(self, http, ws):
        self.http, self.ws = http, ws
        self.next_id = 0
        self.pending = {}
        self.page_errors = []  # (session, text): uncaught exceptions and console errors
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url):
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url, max_msg_size=0, timeout=10)
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def _read(self):
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                m = json.loads(msg.data)
                if 'id' in m:
                    fut = self.pending.pop(m['id'], None)
                    if fut and not fut.done():
                        if 'error' in m:
                            fut.set_exception(CdpError(m['error'].get('message', str(m['error']))))
                        else:
                            fut.set_result(m.get('result', {}))
                elif m.get('method') == 'Runtime.exceptionThrown':
                    d = m['params']['exceptionDetails']
                    text = d.get('exception', {}).get('description') or d.get('text', '')
                    self.page_errors.append((m.get('sessionId'), text))
                elif m.get('method') == 'Runtime.consoleAPICalled' and m['params'].get('type') == 'error':
                    args = [a.get('value', a.get('description', '')) for a in m['params'].get('args', [])]
                    self.page_errors.append((m.get('sessionId'), 'console.error: ' + ' '.join(map(str, args))))
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(CdpError('the browser connection closed'))
            self.pending.clear()

    async def send(self, method, params=None, session=None, timeout=STEP_TIMEOUT):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send_str(json.dumps(msg))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise Failure(f'{method}: no answer from the browser within {timeout} s') from None

    async def close(self):
        self.reader.cancel()
        await self.ws.close()
        await self.http.close()


class Tab:
    def __init__(self, cdp, name, session):
        self.cdp, self.name, self.session = cdp, name, session

    @classmethod
    async def open(cls, cdp, name):
        target = (await cdp.send('Target.createTarget', {'url': 'about:blank'}))['targetId']
        session = (await cdp.send('Target.attachToTarget', {'targetId': target, 'flatten': True}))['sessionId']
        tab = cls(cdp, name, session)
        await tab.send('Runtime.enable')
        await tab.send('Page.enable')
        await tab.send('Emulation.setDeviceMetricsOverride',
                       {'width': 1100, 'height': 750, 'deviceScaleFactor': 1, 'mobile': False})
        await tab.send('Emulation.setFocusEmulationEnabled', {'enabled': True})
        return tab

    async def send(self, method, params=None):
        return await self.cdp.send(method, params, self.session)

    async def js(self, expression):
        """The value of a JS expression (promises awaited)."""
        r = await self.send('Runtime.evaluate', {'expression': expression, 'returnByValue': True,
                                                 'awaitPromise': True})
        if 'exceptionDetails' in r:
            d = r['exceptionDetails']
            raise CdpError(d.get('exception', {}).get('description') or d.get('text', 'exception'))
        return r['result'].get('value')

    async def snapshot(self):
        try:
            return await self.js(SNAPSHOT_JS)
        except (CdpError, Failure) as e:
            return f'(no snapshot: {e})'

    async def wait(self, step, expression, timeout=STEP_TIMEOUT):
        """Polls until the JS expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = await self.js(expression)
                if value:
                    return value
                last = value
            except CdpError as e:  # e.g. the page is navigating
                last = f'error: {e}'
            if time.monotonic() > deadline:
                raise Failure(f'{self.name}: timed out after {timeout:.0f} s waiting for: {step}\n'
                              f'  last value: {last!r}\n  page: {await self.snapshot()}')
            await asyncio.sleep(POLL)


# JS run in the page. The page's own code is never called: the test types, clicks and reads.
SNAPSHOT_JS = r"""(() => {
  const q = (s) => document.querySelector(s);
  return JSON.stringify({
    url: location.href,
    agent: q('#agent') && q('#agent').value,
    session: q('#session-id') && q('#session-id').textContent,
    status: q('#status') && [q('#status').dataset.state, q('#status').textContent],
    send_disabled: q('#send') && q('#send').disabled,
    auth_visible: q('#auth') && !q('#auth').hidden,
    messages: [...document.querySelectorAll('#messages .msg')].map(
      (m) => [m.className, m.dataset.state || '', m.textContent]),
  });
})()"""

# The conversation as [[role, text], ...], user and assistant messages only.
MESSAGES_JS = r"""[...document.querySelectorAll('#messages .msg.user, #messages .msg.assistant')]
  .map((m) => [m.classList.contains('user') ? 'user' : 'assistant', m.textContent])"""

READY_JS = r"""(() => {
  const agent = document.querySelector('#agent');
  const status = document.querySelector('#status');
  const id = document.querySelector('#session-id');
  return document.readyState === 'complete' && !window.__agentrtTestOld && agent && !agent.disabled
    && agent.options.length > 0 && id && id.textContent.length > 8
    && status && status.dataset.state === 'idle';
})()"""

# Records every text the last assistant bubble shows and every text #messages shows.
OBSERVE_JS = r"""(() => {
  const rec = { bubble: [], all: [], firstChunkAt: 0 };
  window.__agentrtTest = rec;
  const messages = document.querySelector('#messages');
  new MutationObserver(() => {
    const all = messages.textContent;
    if (rec.all[rec.all.length - 1] !== all) rec.all.push(all);
    const bubbles = messages.querySelectorAll('.msg.assistant');
    const b = bubbles[bubbles.length - 1];
    const text = b ? b.textContent : '';
    if (text && rec.bubble[rec.bubble.length - 1] !== text) {
      if (!rec.firstChunkAt) rec.firstChunkAt = performance.timeOrigin + performance.now();
      rec.bubble.push(text);
    }
  }).observe(messages, { childList: true, subtree: true, characterData: true });
  return true;
})()"""


def js_str(s):
    return json.dumps(s)


def check(cond, message):
    if not cond:
        raise Failure(message)


async def answer_token_prompt(tab, token):
    """With a token: the page asks (once per tab); type it in."""
    if not token:
        return
    asked = await tab.wait('the page asks for the access token (or is ready)',
                           f"(!document.querySelector('#auth').hidden && 'asked') || ({READY_JS} && 'ready')")
    if asked == 'asked':
        await tab.js(f"""(() => {{
          const t = document.querySelector('#token'); t.value = {js_str(token)};
          document.querySelector('#auth').requestSubmit(); return true; }})()""")


async def load(tab, url, token):
    await tab.js('window.__agentrtTestOld = true')
    await tab.send('Page.navigate', {'url': url})
    await answer_token_prompt(tab, token)
    await tab.wait(f'the page at {url} loads its agents and conversation', READY_JS)


async def type_and_send(tab, text, enter=False):
    if enter:  # the keyboard path: focus, type, press Enter
        await tab.js("document.querySelector('#input').focus()")
        await tab.send('Input.insertText', {'text': text})
        for kind in ('keyDown', 'keyUp'):
            await tab.send('Input.dispatchKeyEvent', {'type': kind, 'key': 'Enter', 'code': 'Enter',
                                                      'windowsVirtualKeyCode': 13, 'text': '\r'})
    else:
        await tab.js(f"document.querySelector('#input').value = {js_str(text)}; "
                     "document.querySelector('#send').click(); true")


def last_bubble_done(text):
    """JS: the last assistant bubble finished (completed) with exactly `text`."""
    return f"""(() => {{
      const b = [...document.querySelectorAll('#messages .msg.assistant')].pop();
      return b && b.dataset.state === 'completed' && b.textContent === {js_str(text)}
        && !document.querySelector('#send').disabled && b.dataset.callId;
    }})()"""


# --- the steps ---------------------------------------------------------------------------

async def step_a(tab, base, token):
    await load(tab, base + '/', token)
    options = await tab.js("[...document.querySelector('#agent').options].map((o) => o.value)")
    check(options and options[0] == 'assistant', f'(a) the agent picker lists `assistant` first: {options}')
    check(await tab.js("document.querySelector('#agent').value") == 'assistant', '(a) `assistant` is selected')
    session = await tab.js("document.querySelector('#session-id').textContent")
    stored = await tab.js("localStorage.getItem('agentrt.session.assistant')")
    check(stored == session, f'(a) the session id shown ({session}) is the one kept ({stored})')
    check(await tab.js(MESSAGES_JS) == [], '(a) a new session starts with an empty conversation')

    await tab.js(OBSERVE_JS)
    await type_and_send(tab, 'my name is Ada', enter=True)
    call_id = await tab.wait('(a) "Nice to meet you, Ada." completes in the assistant bubble',
                             last_bubble_done('Nice to meet you, Ada.'))
    check(await tab.js(MESSAGES_JS) == [['user', 'my name is Ada'], ['assistant', 'Nice to meet you, Ada.']],
          f'(a) the conversation is the message and its answer: {await tab.js(MESSAGES_JS)}')
    check(await tab.js("document.querySelector('#input').value") == '', '(a) the input is cleared on send')
    seen = await tab.js('window.__agentrtTest.bubble')
    streamed = 'Nice to meet you, Ada. '
    partial = [t for t in seen if t != 'Nice to meet you, Ada.']
    check(all(streamed.startswith(t) for t in partial),
          f'(a) every text the bubble showed while streaming is a prefix of the answer: {seen}')
    check(len(set(partial)) >= 2, f'(a) the answer arrived in at least 2 chunk updates, saw {seen}')
    print(f'ok - (a) streamed "Nice to meet you, Ada." in {len(set(partial))} updates (call {call_id})')
    return session


async def step_b(tab, session, token, screenshot):
    await tab.js('window.__agentrtTestOld = true')
    await tab.send('Page.reload', {'ignoreCache': True})
    await answer_token_prompt(tab, token)
    await tab.wait('(b) the reloaded page shows its conversation', READY_JS)
    messages = await tab.js(MESSAGES_JS)
    check(messages == [['user', 'my name is Ada'], ['assistant', 'Nice to meet you, Ada.']],
          f'(b) after the reload the history shows the message and its answer: {messages}')
    shown = await tab.js("document.querySelector('#session-id').textContent")
    check(shown == session, f'(b) the same session id after the reload: {shown} != {session}')
    print('ok - (b) the reload shows the history under the same session id')
    if screenshot:
        png = await tab.send('Page.captureScreenshot', {'format': 'png'})
        with open(screenshot, 'wb') as f:
            f.write(base64.b64decode(png['data']))
        print(f'# screenshot written to {screenshot}')


async def step_c(cdp, tab1, session1, base, token):
    # Small pacing for both turns; the page reads param.* from its URL when it sends.
    await tab1.js("history.replaceState(null, '', '/?param.ms_per_word=10'); true")
    tab2 = await Tab.open(cdp, 'tab 2')
    await load(tab2, base + '/?param.ms_per_word=10', token)
    # Tabs share localStorage: tab 2 opened on tab 1's session; it takes a new one.
    await tab2.js("document.querySelector('#new').click(); true")
    session2 = await tab2.wait('(c) "new conversation" gives tab 2 a new, empty session',
                               f"""(() => {{ const id = document.querySelector('#session-id').textContent;
                                    return id !== {js_str(session1)} && id.length > 8
                                      && document.querySelectorAll('#messages .msg').length === 0 && id; }})()""")
    check(await tab1.js("document.querySelector('#session-id').textContent") == session1,
          '(c) tab 1 keeps its session when tab 2 starts a new one')

    for tab in (tab1, tab2):
        await tab.js(OBSERVE_JS)
    await tab1.js("document.querySelector('#input').value = 'my name is Ada'; true")
    await tab2.js("document.querySelector('#input').value = 'my name is Bob'; true")
    click = "window.__agentrtClickAt = performance.timeOrigin + performance.now(); " \
            "document.querySelector('#send').click(); true"
    await asyncio.gather(tab1.js(click), tab2.js(click))
    done_at = {}

    async def finish(tab, name):
        await tab.wait(f'(c) "Nice to meet you, {name}." completes in {tab.name}',
                       last_bubble_done(f'Nice to meet you, {name}.'))
        done_at[tab.name] = await tab.js('performance.timeOrigin + performance.now()')

    await asyncio.gather(finish(tab1, 'Ada'), finish(tab2, 'Bob'))
    windows = {}
    for tab in (tab1, tab2):
        windows[tab.name] = (await tab.js('window.__agentrtClickAt'), done_at[tab.name])
    (s1, e1), (s2, e2) = windows['tab 1'], windows['tab 2']
    check(s1 < e2 and s2 < e1, f'(c) the two turns ran at the same time: {windows}')

    all1 = await tab1.js('window.__agentrtTest.all')
    all2 = await tab2.js('window.__agentrtTest.all')
    check(not any('Bob' in t for t in all1), f'(c) tab 1 never showed Bob: {[t for t in all1 if "Bob" in t]}')
    check(not any('Ada' in t for t in all2), f'(c) tab 2 never showed Ada: {[t for t in all2 if "Ada" in t]}')
    m2 = await tab2.js(MESSAGES_JS)
    check(m2 == [['user', 'my name is Bob'], ['assistant', 'Nice to meet you, Bob.']],
          f'(c) tab 2 shows only its own conversation: {m2}')
    m1 = await tab1.js(MESSAGES_JS)
    check(m1[-2:] == [['user', 'my name is Ada'], ['assistant', 'Nice to meet you, Ada.']]
          and not any('Bob' in text for _, text in m1),
          f'(c) tab 1 shows only its own conversation: {m1}')
    print(f'ok - (c) two tabs, two sessions ({session1[:8]}…, {session2[:8]}…), each saw only its own name')
    return tab2


async def step_d(tab):
    await tab.js("history.replaceState(null, '', '/'); true")  # default pacing: a few seconds
    await tab.js(OBSERVE_JS)
    await type_and_send(tab, 'count to 200')
    await tab.wait('(d) the count starts streaming and Stop is enabled',
                   """(() => { const b = [...document.querySelectorAll('#messages .msg.assistant')].pop();
                        return b && b.dataset.callId && b.textContent.startsWith('1 ')
                          && !document.querySelector('#stop').disabled
                          && document.querySelector('#send').disabled; })()""")
    await tab.js("document.querySelector('#stop').click(); true")
    await tab.wait('(d) the turn ends cancelled with Send enabled again',
                   """(() => { const s = document.querySelector('#status');
                        return s.dataset.state === 'cancelled' && /cancel/i.test(s.textContent)
                          && !document.querySelector('#send').disabled
                          && document.querySelector('#stop').disabled; })()""")
    text = await tab.js("[...document.querySelectorAll('#messages .msg.assistant')].pop().textContent")
    state = await tab.js("[...document.querySelectorAll('#messages .msg.assistant')].pop().dataset.state")
    full = ' '.join(str(i) for i in range(1, 201)) + ' '
    check(state == 'cancelled', f'(d) the stopped bubble is marked cancelled: {state!r}')
    check(full.startswith(text) and len(text) < len(full),
          f'(d) the stopped bubble holds a strict prefix of the count: {text!r}')
    status = await tab.js("document.querySelector('#status').textContent")
    print(f'ok - (d) Stop cancelled the count after "{text.split()[-1]}" (status: {status})')


STATUS_OBSERVE_JS = r"""(() => {
  const s = document.querySelector('#status');
  window.__agentrtStates = [];
  new MutationObserver(() => window.__agentrtStates.push(s.dataset.state))
    .observe(s, { attributes: true, childList: true, characterData: true, subtree: true });
  return true;
})()"""


async def step_e(cdp, base, token):
    url = urllib.parse.urlsplit(base)
    proxy = CuttingProxy(url.hostname, url.port or 80)
    port = await proxy.start()
    try:
        # Another origin (the proxy's port): its own storage, so a new session.
        tab = await Tab.open(cdp, 'tab 3')
        await load(tab, f'http://127.0.0.1:{port}/?param.ms_per_word=100', token)
        session = await tab.js("document.querySelector('#session-id').textContent")
        await tab.js(OBSERVE_JS)
        await tab.js(STATUS_OBSERVE_JS)
        await type_and_send(tab, 'count to 30')
        await tab.wait('(e) the count streams its first numbers',
                       "window.__agentrtTest.bubble.some((t) => t.startsWith('1 2 3 '))")
        cut = proxy.cut()
        check(cut > 0, '(e) the proxy had the stream open to cut')
        await tab.wait('(e) the page shows that it is reconnecting',
                       "document.querySelector('#status').dataset.state === 'reconnecting' "
                       "&& /reconnecting/i.test(document.querySelector('#status').textContent)")
        await tab.wait('(e) the resumed turn completes', last_bubble_done('counted to 30'))
        seen = await tab.js('window.__agentrtTest.bubble')
        full = ' '.join(str(i) for i in range(1, 31)) + ' '
        check(all(full.startswith(t) for t in seen if t != 'counted to 30'),
              f'(e) every text the bubble showed is a prefix of the count (nothing twice): {seen}')
        check(full in seen, f'(e) the bubble showed the whole count before the answer: {seen[-3:]}')
        states = await tab.js('window.__agentrtStates')
        check('reconnecting' in states, f'(e) the status went through reconnecting: {states}')
        history = await tab.js(f"""fetch('/v1/agents/assistant/sessions/' + encodeURIComponent({js_str(session)})
            + '/history', {{ headers: {js_str({'Authorization': 'Bearer ' + token} if token else {})} }})
            .then((r) => r.json()).then((b) => b.entries
              .filter((e) => e.role === 'user' || e.role === 'assistant').map((e) => [e.role, e.content]))""")
        check(history == [['user', 'count to 30'], ['assistant', 'counted to 30']],
              f'(e) the session has the one turn, not a second one from the reconnect: {history}')
        print(f'ok - (e) a cut connection resumed the same call: {len(seen)} updates, none twice')
    finally:
        await proxy.close()


async def run(args, browser):
    ws_url = await browser.start()
    cdp = await Cdp.connect(ws_url)
    try:
        base = args.base_url.rstrip('/')
        tab1 = await Tab.open(cdp, 'tab 1')
        session = await step_a(tab1, base, args.token)
        await step_b(tab1, session, args.token, args.screenshot)
        await step_c(cdp, tab1, session, base, args.token)
        await step_d(tab1)
        await step_e(cdp, base, args.token)
        check(not cdp.page_errors, f'no script errors in the pages: {cdp.page_errors}')
    finally:
        if cdp.page_errors:
            print('# script errors seen in the pages:', *cdp.page_errors, sep='\n#   ')
        await cdp.close()


async def guarded(args, browser, signalled):
    """run() under the overall deadline; a signal cancels it (the caller cleans up)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(sig, lambda sig=sig: (signalled.append(sig), task.cancel()))
    try:
        await asyncio.wait_for(run(args, browser), TOTAL_TIMEOUT)
    except asyncio.TimeoutError:
        raise Failure(f'the whole test took more than {TOTAL_TIMEOUT:.0f} s') from None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('base_url')
    parser.add_argument('--screenshot', metavar='PATH', help='a PNG of tab 1 after step b')
    parser.add_argument('--token', help='the server token; the page is expected to ask for it')
    args = parser.parse_args()

    browser = Chromium()
    signalled = []
    started = time.monotonic()
    status = 1
    try:
        asyncio.run(guarded(args, browser, signalled))
        status = 0
        print(f'chat page test passed in {time.monotonic() - started:.1f} s')
    except Failure as e:
        print(f'FAILED: {e}')
    except (aiohttp.ClientError, CdpError, OSError) as e:
        print(f'FAILED: {type(e).__name__}: {e}')
    except (asyncio.CancelledError, KeyboardInterrupt):
        sig = signalled[0] if signalled else signal.SIGINT
        print(f'stopped by signal {sig}')
        status = 128 + sig
    finally:
        browser.stop()
    sys.exit(status)


if __name__ == '__main__':
    main()
