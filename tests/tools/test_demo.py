"""`fovea demo`: the predictor's numbers, and the page driven end to end in headless Chromium."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from tests.tools._cdp import Browser, find_browser

pytest.importorskip('gradio')
pytest.importorskip('pytorch_grad_cam')


def test_predictor_matches_inferencer(lenet_run, photo_dir):
    from PIL import Image

    from fovea.apis import ImageClassificationInferencer
    from fovea.tools.demo import DemoPredictor, build_demo
    pred = DemoPredictor('lenet5_digits', lenet_run['checkpoint'], topk=5)
    arr = np.asarray(Image.open(photo_dir / 'coffee.jpg'))
    labels, overlay = pred(arr)
    ref = ImageClassificationInferencer('lenet5_digits', pretrained=lenet_run['checkpoint'], device='cpu')(arr)[0]
    order = np.argsort(-ref['pred_scores'])[:5]
    assert list(labels) == [str(i) for i in order]
    np.testing.assert_allclose(list(labels.values()), ref['pred_scores'][order], atol=1e-6)
    assert overlay.shape == (224, 224, 3) and overlay.dtype == np.uint8
    assert pred(None) == ({}, None)
    app = build_demo(pred)
    assert type(app).__name__ == 'Blocks'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.browser
@pytest.mark.slow
def test_demo_in_headless_chromium(lenet_run, photo_dir, tmp_path):
    if find_browser() is None:
        pytest.skip('no Chromium/Chrome found (Debian: apt-get install chromium)')
    pytest.importorskip('websockets')
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', HOME=str(tmp_path))
    server = subprocess.Popen([sys.executable, '-m', 'fovea', 'demo', 'lenet5_digits', '--checkpoint',
                               lenet_run['checkpoint'], '--port', str(port), '--no-examples'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.time() + 120
        while True:
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                out = server.stdout.read() if server.poll() is not None else ''
                pytest.fail(f'the demo server did not come up on {url}:\n{out[-3000:]}')
            time.sleep(0.5)
        with Browser(tmp_path / 'chrome-profile') as page:
            page.call('Page.enable')
            page.call('Page.navigate', url=url)
            page.wait_for("document.querySelector('#fovea-input input[type=file]') !== null", timeout=90)
            page.set_files('#fovea-input input[type=file]', [str(photo_dir / 'coffee.jpg')])
            state = page.wait_for("""(() => {
                const lab = document.querySelector('#fovea-topk');
                const img = document.querySelector('#fovea-cam img');
                const text = lab ? lab.innerText : '';
                const ok = img && img.complete && img.naturalWidth > 0 && /\\d+(\\.\\d+)?%/.test(text);
                return ok ? {text: text, w: img.naturalWidth, h: img.naturalHeight} : null;
            })()""", timeout=120)
            page.screenshot(tmp_path / 'demo.png')
        assert state['w'] == 224 and state['h'] == 224  # the overlay at the size DemoPredictor draws it
        percents = [float(p) for p in __import__('re').findall(r'(\d+(?:\.\d+)?)%', state['text'])]
        assert len(percents) == 5, state['text']
        assert percents == sorted(percents, reverse=True)
        from PIL import Image

        from fovea.apis import ImageClassificationInferencer
        ref = ImageClassificationInferencer('lenet5_digits', pretrained=lenet_run['checkpoint'], device='cpu')(
            np.asarray(Image.open(photo_dir / 'coffee.jpg')))[0]
        assert ref['pred_class'] in state['text'].split()
        assert percents[0] == pytest.approx(100 * ref['pred_score'], abs=1)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
