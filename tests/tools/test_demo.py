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


# ---------------------------------------------------------------------------------------- CLIP tabs
@pytest.fixture(scope='module')
def tiny_clip(tmp_path_factory):
    """A tiny CLIP config file and a checkpoint of its (random) weights."""
    import json

    import torch

    from fovea.apis.model import build_model_from_cfg
    from fovea.models.multimodal.clip.archs import clip_model_cfg
    from tests.multimodal.clip_testutil import TINY_VIT
    root = tmp_path_factory.mktemp('clip_demo')
    cfg = root / 'tiny_clip.json'
    pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
    cfg.write_text(json.dumps({'model': clip_model_cfg(TINY_VIT), 'test_pipeline': pipeline}))
    torch.manual_seed(0)
    ckpt = root / 'tiny_clip.pth'
    torch.save({'state_dict': build_model_from_cfg(clip_model_cfg(TINY_VIT)).state_dict()}, ckpt)
    return str(cfg), str(ckpt)


def test_clip_tabs_match_the_inferencers(tiny_clip, photo_dir):
    from PIL import Image

    from fovea.apis import (ImageToTextRetrievalInferencer, TextToImageRetrievalInferencer,
                            ZeroShotClassificationInferencer)
    from fovea.tools.demo import ImageToTextTab, TextToImageTab, ZeroShotTab, build_demo, demo_tabs
    from fovea.utils.errors import DataError
    cfg, ckpt = tiny_clip
    tabs = demo_tabs(cfg, ckpt, gallery=str(photo_dir), topk=3)
    assert [type(t) for t in tabs] == [ZeroShotTab, ImageToTextTab, TextToImageTab]
    zero, i2t, t2i = tabs
    arr = np.asarray(Image.open(photo_dir / 'coffee.jpg'))
    classes = ['a cup of coffee', 'an astronaut', 'a camera', 'a dog']
    got = zero(arr, 'a cup of coffee, an astronaut\na camera,, a dog')
    ref = ZeroShotClassificationInferencer(cfg, ckpt, device='cpu', classes=classes)(arr)[0]
    order = np.argsort(-ref['pred_scores'])[:3]
    assert list(got) == [classes[i] for i in order]
    np.testing.assert_allclose(list(got.values()), ref['pred_scores'][order], atol=1e-6)
    texts = ['a cup of coffee on a table', 'a woman in a space suit', 'a man with a camera']
    probs = i2t(arr, '\n'.join(texts))
    hits = ImageToTextRetrievalInferencer(cfg, prototype=texts, pretrained=ckpt, device='cpu')(arr, topk=3)[0]
    assert list(probs) == [h['sample']['text'] for h in hits]
    assert sum(probs.values()) == pytest.approx(1, abs=1e-5)  # all 3 candidates shown: a distribution
    found = t2i('a cup of coffee')
    ref_hits = TextToImageRetrievalInferencer(cfg, prototype=str(photo_dir), pretrained=ckpt,
                                              device='cpu')('a cup of coffee', topk=3)[0]
    assert [p for p, _ in found] == [h['sample']['img_path'] for h in ref_hits]
    assert found[0][1] == f"{os.path.basename(found[0][0])} ({ref_hits[0]['match_score']:.3f})"
    with pytest.raises(DataError, match='at least one class'):
        zero(arr, ' , \n')
    with pytest.raises(DataError, match='image first'):
        i2t(None, 'a text')
    assert type(build_demo(tabs)).__name__ == 'Blocks'


def _serve(args: list[str], tmp_path, env: dict | None = None):
    """Start ``fovea demo ARGS`` on a free port; returns (process, url) once the page answers."""
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', HOME=str(tmp_path), **(env or {}))
    server = subprocess.Popen([sys.executable, '-m', 'fovea', 'demo', *args, '--port', str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.time() + 120
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return server, url
        except OSError:
            pass
        if server.poll() is not None or time.time() > deadline:
            out = server.stdout.read() if server.poll() is not None else ''
            server.kill()
            pytest.fail(f'the demo server did not come up on {url}:\n{out[-3000:]}')
        time.sleep(0.5)


def _type(page, selector: str, text: str) -> None:
    """Set a Gradio text box the way typing does (Svelte listens to input events)."""
    page.wait_for(f'document.querySelector({selector!r}) !== null', timeout=30)
    page.evaluate(f"""(() => {{ const el = document.querySelector({selector!r});
        el.value = {text!r}; el.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")


def _open_tab(page, title: str) -> None:
    page.evaluate(f"""[...document.querySelectorAll('button[role=tab]')]
        .find(b => b.innerText.trim() === {title!r}).click()""")


_LABELS = """(() => {{ const el = document.querySelector('{sel}');
    const text = el ? el.innerText : ''; return /\\d+(\\.\\d+)?%/.test(text) ? text : null; }})()"""


@pytest.mark.browser
@pytest.mark.slow
def test_clip_demo_in_headless_chromium(tiny_clip, photo_dir, tmp_path):
    """The three CLIP tabs driven in the browser: zero-shot classes typed on the page, candidate texts ranked
    for an uploaded image, and a gallery searched with a text, each equal to the in-process tab's answer."""
    if find_browser() is None:
        pytest.skip('no Chromium/Chrome found (Debian: apt-get install chromium)')
    pytest.importorskip('websockets')
    from PIL import Image

    from fovea.tools.demo import demo_tabs
    cfg, ckpt = tiny_clip
    zero, i2t, t2i = demo_tabs(cfg, ckpt, gallery=str(photo_dir), topk=3)
    arr = np.asarray(Image.open(photo_dir / 'coffee.jpg'))
    server, url = _serve([cfg, '--checkpoint', ckpt, '--gallery', str(photo_dir), '--topk', '3', '--no-examples'],
                         tmp_path)
    try:
        with Browser(tmp_path / 'chrome-profile') as page:
            page.call('Page.enable')
            page.call('Page.navigate', url=url)
            page.wait_for("document.querySelector('#fovea-zeroshot-image input[type=file]') !== null", timeout=90)
            _type(page, '#fovea-zeroshot-text textarea', 'coffee, astronaut, camera, dog')
            page.set_files('#fovea-zeroshot-image input[type=file]', [str(photo_dir / 'coffee.jpg')])
            page.wait_for("document.querySelector('#fovea-zeroshot-image img') !== null", timeout=60)
            page.evaluate("document.querySelector('#fovea-zeroshot-run').click()")
            zero_text = page.wait_for(_LABELS.format(sel='#fovea-zeroshot-out'), timeout=120)

            _open_tab(page, 'Image to text')
            page.wait_for("document.querySelector('#fovea-i2t-image input[type=file]') !== null", timeout=30)
            page.set_files('#fovea-i2t-image input[type=file]', [str(photo_dir / 'coffee.jpg')])
            page.wait_for("document.querySelector('#fovea-i2t-image img') !== null", timeout=60)
            page.evaluate("document.querySelector('#fovea-i2t-run').click()")
            i2t_text = page.wait_for(_LABELS.format(sel='#fovea-i2t-out'), timeout=120)

            _open_tab(page, 'Text to image')
            _type(page, '#fovea-t2i-text textarea, #fovea-t2i-text input', 'a cup of coffee')
            page.evaluate("document.querySelector('#fovea-t2i-run').click()")
            shown = page.wait_for("""(() => { const imgs = [...document.querySelectorAll('#fovea-t2i-out img')];
                return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0)
                    ? document.querySelector('#fovea-t2i-out').innerText : null; })()""", timeout=120)
            page.screenshot(tmp_path / 'clip_demo.png')
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    # a Label reads 'title', the top name, then name and percentage per row
    for text, expected in ((zero_text, zero(arr, 'coffee, astronaut, camera, dog')),
                           (i2t_text, i2t(arr, '\n'.join(i2t.texts)))):
        lines = text.split('\n')[2:]
        assert lines[0::2] == list(expected), text
        np.testing.assert_allclose([float(p.rstrip('%')) for p in lines[1::2]],
                                   [100 * v for v in expected.values()], atol=1)
    assert shown.split('\n')[1:] == [c for _, c in t2i('a cup of coffee')], shown


# ---------------------------------------------------------------------------------------- BLIP tabs
@pytest.fixture(scope='module')
def image_text(tmp_path_factory):
    """The tiny BlipCaption and the rule-based image-text model (image_text_testutil), as config files a
    `fovea demo` process can read (the toy's Python config imports the module that registers it)."""
    from pathlib import Path

    from tests.multimodal.image_text_testutil import write_tiny_blip_caption, write_toy_setup
    root = tmp_path_factory.mktemp('image_text_demo')
    blip_cfg, blip_ckpt, _ = write_tiny_blip_caption(root)
    _, images = write_toy_setup(root)
    toy = Path(root) / 'toy.py'
    toy.write_text('import tests.multimodal.image_text_testutil  # noqa: F401  (registers ImageTextToy)\n\n'
                   "model = dict(type='ImageTextToy')\n"
                   "test_pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]\n")
    return dict(blip=(blip_cfg, blip_ckpt), toy=str(toy), images=images)


def test_blip_tabs_match_the_inferencers(image_text, photo_dir):
    from PIL import Image

    from fovea.apis.image_text import ImageCaptionInferencer, VisualGroundingInferencer
    from fovea.tools.demo import CaptionTab, GroundingTab, VQATab, build_demo, demo_tabs
    from fovea.utils.errors import ConfigError, DataError
    cfg, ckpt = image_text['blip']
    (caption,) = demo_tabs(cfg, ckpt)
    assert isinstance(caption, CaptionTab)
    arr = np.asarray(Image.open(photo_dir / 'coffee.jpg'))
    ref = ImageCaptionInferencer(cfg, pretrained=ckpt, device='cpu')(arr, num_beams=3)[0]['pred_caption']
    assert caption(arr) == ref
    (vqa,) = demo_tabs(image_text['toy'], task='visual question answering')
    assert isinstance(vqa, VQATab)
    green = np.asarray(Image.open(image_text['images'] / '1.png'))
    assert vqa(green, 'what colour is it?') == 'green'
    with pytest.raises(DataError, match='image first'):
        vqa(None, 'what colour is it?')
    (ground,) = demo_tabs(image_text['toy'], task='visual grounding')
    assert isinstance(ground, GroundingTab)
    drawn = ground(green, 'the green box')
    box = VisualGroundingInferencer(image_text['toy'], device='cpu')(green, 'the green box')[0]['pred_bboxes']
    np.testing.assert_array_equal(drawn, np.asarray(VisualGroundingInferencer.draw(green, box, 'the green box')))
    assert drawn.shape == green.shape and not np.array_equal(drawn, green)
    with pytest.raises(ConfigError, match='no tab for NLVR'):
        demo_tabs(image_text['toy'], task='NLVR')
    assert type(build_demo([caption, vqa, ground])).__name__ == 'Blocks'


_TEXT_OUT = """(() => {{ const el = document.querySelector('{sel} textarea, {sel} input');
    return el && el.value ? el.value : null; }})()"""


@pytest.mark.browser
@pytest.mark.slow
def test_blip_demo_in_headless_chromium(image_text, photo_dir, tmp_path):
    """The caption (tiny BlipCaption), VQA and grounding tabs (the rule-based model) driven in the browser:
    each shows what the tab answers in-process."""
    if find_browser() is None:
        pytest.skip('no Chromium/Chrome found (Debian: apt-get install chromium)')
    pytest.importorskip('websockets')
    from pathlib import Path

    from PIL import Image

    from fovea.tools.demo import demo_tabs
    cfg, ckpt = image_text['blip']
    green = str(image_text['images'] / '1.png')
    repo = str(Path(__file__).resolve().parents[2])  # the toy's config imports tests.multimodal
    env = {'PYTHONPATH': os.pathsep.join(p for p in (repo, os.environ.get('PYTHONPATH')) if p)}
    runs = [([cfg, '--checkpoint', ckpt], 'caption', str(photo_dir / 'coffee.jpg'), None),
            ([image_text['toy'], '--task', 'vqa'], 'vqa', green, 'what colour is it?'),
            ([image_text['toy'], '--task', 'ground'], 'ground', green, 'the green box')]
    shown = {}
    for args, name, image, text in runs:
        server, url = _serve([*args, '--no-examples'], tmp_path, env)
        try:
            with Browser(tmp_path / f'chrome-{name}') as page:
                page.call('Page.enable')
                page.call('Page.navigate', url=url)
                page.wait_for(f"document.querySelector('#fovea-{name}-image input[type=file]') !== null", timeout=90)
                if text is not None:
                    _type(page, f'#fovea-{name}-text textarea', text)
                page.set_files(f'#fovea-{name}-image input[type=file]', [image])
                page.wait_for(f"document.querySelector('#fovea-{name}-image img') !== null", timeout=60)
                page.evaluate(f"document.querySelector('#fovea-{name}-run').click()")
                if name == 'ground':
                    shown[name] = page.wait_for("""(() => { const i = document.querySelector('#fovea-ground-out img');
                        return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null; })()""",
                                                timeout=120)
                else:
                    shown[name] = page.wait_for(_TEXT_OUT.format(sel=f'#fovea-{name}-out'), timeout=120)
                page.screenshot(tmp_path / f'{name}.png')
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    (caption,) = demo_tabs(cfg, ckpt)
    assert shown['caption'] == caption(np.asarray(Image.open(photo_dir / 'coffee.jpg')))
    assert shown['vqa'] == 'green'
    assert shown['ground'] == [64, 48]  # the drawing at the image's own size
