"""fovea's CLIP against open_clip (random weights converted into fovea): features, zero-shot
predictions, the loss, and OpenAI's TorchScript archives read as data."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.utils.weights import read_weights
from tests.multimodal.clip_testutil import TINY_RN, TINY_VIT, tiny_clip

pytestmark = pytest.mark.reference
open_clip = pytest.importorskip('open_clip')

TEXTS = ['a photo of a cat', 'a dog running on the beach!', 'Ünïcode & emoji 😀', 'x ' * 90]
CLASSES = ['cat', 'dog', 'airplane', 'truck', 'frog', 'horse', 'ship', 'bird']
TEMPLATES = ['a photo of a {}.', 'a blurry photo of the {}.', 'art of the {}.']


def _open_clip_model(arch, quick_gelu=False):
    if isinstance(arch, str):
        return open_clip.create_model(arch, force_quick_gelu=quick_gelu).eval()
    from open_clip.model import CLIP
    return CLIP(**arch, quick_gelu=quick_gelu).eval()


def _check_parity(ref, ours, size):
    images = torch.randn(6, 3, size, size)
    tok = open_clip.get_tokenizer('ViT-B-32')
    with torch.no_grad():
        a, b = ref.encode_image(images), ref.encode_text(tok(TEXTS))
        c, d = ours.extract_image_feat(images), ours.extract_text_feat(TEXTS)
        assert (a - c).abs().max() < 1e-4 and (b - d).abs().max() < 1e-4
        classifier = open_clip.build_zero_shot_classifier(ref, tokenizer=tok, classnames=CLASSES,
                                                          templates=[t.format for t in TEMPLATES], device='cpu')
        ref_pred = (torch.nn.functional.normalize(a, dim=-1) @ classifier).argmax(1)
        ours.set_classes(CLASSES, TEMPLATES)
        torch.testing.assert_close(ours.class_embeddings(), classifier.T, atol=1e-5, rtol=0)
        pred = torch.cat([s.pred_label for s in ours.predict(images)])
    assert torch.equal(pred, ref_pred)


@pytest.mark.parametrize('arch,quick_gelu', [(TINY_VIT, False), (TINY_VIT, True), (TINY_RN, False)])
def test_tiny_open_clip_models_match(arch, quick_gelu):
    ref = _open_clip_model(arch, quick_gelu)
    ours = tiny_clip(arch, quick_gelu).eval()
    report = load_weights(ours, ref.state_dict(), require_all=True)
    assert report.source in ('clip', 'fovea') and not report.missing
    _check_parity(ref, ours, arch['vision_cfg']['image_size'])


@pytest.mark.slow
@pytest.mark.parametrize('arch', ['ViT-B-32', 'ViT-B-16', 'RN50'])
def test_published_architectures_match(arch):
    from fovea.apis.model import build_model_from_cfg
    from fovea.models.multimodal.clip.archs import clip_model_cfg
    ref = _open_clip_model(arch)
    ours = build_model_from_cfg(clip_model_cfg(arch)).eval()
    load_weights(ours, ref.state_dict(), require_all=True)
    _check_parity(ref, ours, 224)


def test_openai_torchscript_archive_is_read_as_data(tmp_path, monkeypatch):
    """OpenAI's releases are fp16 TorchScript archives: read data.pkl with the safe unpickler, never
    torch.jit.load, and convert them."""
    ref = _open_clip_model(TINY_VIT, quick_gelu=True).half()
    traced = torch.jit.trace(ref, (torch.randn(1, 3, 32, 32).half(), torch.zeros(1, 77, dtype=torch.long)),
                             check_trace=False, strict=False)
    path = tmp_path / 'ViT-tiny.pt'
    torch.jit.save(traced, str(path))

    def refuse(*a, **k):
        raise AssertionError('torch.jit.load must not be called')
    monkeypatch.setattr(torch.jit, 'load', refuse)
    sd = read_weights(path)
    for k, v in ref.state_dict().items():
        assert torch.equal(sd[k], v), k
    ours = tiny_clip(TINY_VIT, quick_gelu=True).eval()
    assert load_weights(ours, path, require_all=True).source == 'clip'
    _check_parity(ref.float(), ours, 32)


def test_open_clip_training_checkpoint_with_module_prefix(tmp_path):
    ref = _open_clip_model(TINY_VIT)
    path = tmp_path / 'epoch_1.pt'
    torch.save({'epoch': 1, 'name': 'run', 'state_dict': {'module.' + k: v for k, v in ref.state_dict().items()}},
               path)
    ours = tiny_clip(TINY_VIT).eval()
    load_weights(ours, path, require_all=True)
    _check_parity(ref, ours, 32)


@pytest.mark.parametrize('local_loss', [False, True])
def test_loss_equals_open_clip(local_loss):
    from fovea.models.losses import ClipLoss
    img = torch.nn.functional.normalize(torch.randn(16, 32), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(16, 32), dim=-1)
    scale = torch.tensor(14.3)
    ref = open_clip.ClipLoss(local_loss=local_loss)(img, txt, scale)
    ours = ClipLoss(local_loss=local_loss)(img, txt, scale)
    assert abs(ref.item() - ours.item()) < 1e-6


def test_fovea_convert_and_get_model_pretrained(tmp_path):
    import json

    from fovea.apis.model import get_model
    from fovea.cli.main import main
    from fovea.models.multimodal.clip.archs import clip_model_cfg
    ref = _open_clip_model(TINY_VIT)
    src, out, cfg = tmp_path / 'open_clip.pt', tmp_path / 'fovea.pth', tmp_path / 'tiny_clip.json'
    torch.save(ref.state_dict(), src)
    cfg.write_text(json.dumps({'model': clip_model_cfg(TINY_VIT)}))
    with pytest.raises(SystemExit) as done:
        main(['convert', str(src), str(out), '--model', str(cfg), '--strict'])
    assert done.value.code == 0
    for weights in (src, out):  # the original and the converted file
        _check_parity(ref, get_model(str(cfg), pretrained=str(weights), require_all=True), 32)
