"""A tiny Chrome DevTools Protocol client: start headless Chromium and drive one page over a websocket."""
from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

BROWSERS = ('/usr/bin/chromium', 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')


def find_browser() -> str | None:
    for b in BROWSERS:
        path = b if Path(b).is_file() else shutil.which(b)
        if path:
            return path
    return None


class Browser:
    """``with Browser(profile_dir) as page: page.call('Page.navigate', url=...)``."""

    def __init__(self, profile_dir: Path, binary: str | None = None, width: int = 1280, height: int = 900):
        self.binary = binary or find_browser()
        self.profile = Path(profile_dir)
        self.size = (width, height)
        self.proc: subprocess.Popen | None = None
        self.ws = None
        self._id = 0

    def __enter__(self) -> 'Browser':
        from websockets.sync.client import connect
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
             '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--remote-debugging-port=0',
             f'--user-data-dir={self.profile}', f'--window-size={self.size[0]},{self.size[1]}', 'about:blank'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / 'DevToolsActivePort'
        deadline = time.time() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f'{self.binary} did not open a DevTools port')
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10))
        page = next(t for t in targets if t.get('type') == 'page')
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(page['webSocketDebuggerUrl'], max_size=64 * 2**20,
                                                    open_timeout=20))
        return self

    def __exit__(self, *exc) -> None:
        if self.ws is not None:
            self._stack.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict:
        """Send a command and return its result (events arriving meanwhile are dropped)."""
        self._id += 1
        self.ws.send(json.dumps({'id': self._id, 'method': method, 'params': params}))
        deadline = time.time() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time())))
            if msg.get('id') == self._id:
                if 'error' in msg:
                    raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})

    def evaluate(self, expression: str) -> Any:
        res = self.call('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in res:
            raise RuntimeError(f'JavaScript error: {res["exceptionDetails"]}')
        return res.get('result', {}).get('value')

    def wait_for(self, expression: str, timeout: float = 60, interval: float = 0.25) -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f'timed out after {timeout}s waiting for: {expression}')

    def set_files(self, selector: str, paths: list[str]) -> None:
        root = self.call('DOM.getDocument', depth=-1, pierce=True)['root']['nodeId']
        node = self.call('DOM.querySelector', nodeId=root, selector=selector)['nodeId']
        if not node:
            raise RuntimeError(f'no element matches {selector!r}')
        self.call('DOM.setFileInputFiles', nodeId=node, files=paths)

    def screenshot(self, path: Path) -> None:
        import base64
        data = self.call('Page.captureScreenshot', format='png')['data']
        Path(path).write_bytes(base64.b64decode(data))
