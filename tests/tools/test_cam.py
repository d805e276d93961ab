"""`fovea cam`: Grad-CAM maps equal a hand-written Grad-CAM; ViT tokens are reshaped into maps."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fovea.cli.main import main
from fovea.utils.errors import ConfigError
from tests.tools.conftest import is_png

pytest.importorskip('pytorch_grad_cam')


def _manual_gradcam(model, layer, x, category):
    store = {}
    h = layer.register_forward_hook(lambda m, i, o: store.__setitem__('a', o))
    try:
        logits = model(x, mode='tensor')
        act = store['a']
        grad, = torch.autograd.grad(logits[0, category], act)
    finally:
        h.remove()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1))[0].detach()
    cam = F.interpolate(cam[None, None], size=x.shape[-2:], mode='bilinear', align_corners=False)[0, 0]
    cam = cam - cam.min()
    return (cam / cam.max()).numpy()


def test_gradcam_lenet_matches_manual(lenet_run, digit_images):
    from fovea.apis import ImageClassificationInferencer
    from fovea.tools.cam import class_activation_map, get_layer
    inf = ImageClassificationInferencer('lenet5_digits', pretrained=lenet_run['checkpoint'], device='cpu')
    imgs, labels = digit_images
    x = next(iter(inf.batches(inf.preprocess([(imgs[3], None)]), 1)))['inputs']
    res = class_activation_map(inf.model, x, 'gradcam', target_category=int(labels[3]))
    assert res['target_layers'] == ['backbone.features.5'] and not res['vit_like']  # last map with >1 position
    assert res['cam'].shape == (32, 32) and res['cam'].min() >= 0 and res['cam'].max() == pytest.approx(1, abs=1e-5)
    ref = _manual_gradcam(inf.model, get_layer(inf.model, 'backbone.features.5'), x, int(labels[3]))
    assert np.corrcoef(res['cam'].ravel(), ref.ravel())[0, 1] > 0.98
    with pytest.raises(ConfigError, match='no sub-module'):
        class_activation_map(inf.model, x, target_layers=['backbone.featurez'])
    with pytest.raises(ConfigError, match='unknown CAM method'):
        class_activation_map(inf.model, x, method='gradcan')


def test_vit_tokens_are_reshaped():
    from fovea.apis.inference import build_inference_model
    from fovea.config import Config
    from fovea.tools.cam import class_activation_map, reshape_tokens
    cfg = Config(dict(model=dict(
        type='ImageClassifier', neck=None,
        backbone=dict(type='VisionTransformer', img_size=32, patch_size=8,
                      arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)),
        head=dict(type='VisionTransformerClsHead', num_classes=5, in_channels=32))))
    model = build_inference_model(cfg)
    for p in model.head.parameters():  # the head starts at zero (MMPretrain's init): give it a gradient
        torch.nn.init.normal_(p, std=0.5)
    t = torch.arange(2 * 17 * 3, dtype=torch.float32).view(2, 17, 3)
    m = reshape_tokens(t)
    assert m.shape == (2, 3, 4, 4) and torch.equal(m[:, :, 0, 1], t[:, 2])  # class token dropped, row-major
    x = torch.randn(1, 3, 32, 32)
    res = class_activation_map(model, x, 'gradcam', target_category=1)
    assert res['target_layers'] == ['backbone.layers.-1.ln1'] and res['vit_like']
    assert res['cam'].shape == (32, 32) and res['cam'].std() > 0.01
    # constant over each 8x8 patch before the library's resize: 16 distinct patch values at most
    eig = class_activation_map(model, x, 'eigencam', target_layers=['backbone.layers[-1].ln1'])
    assert eig['vit_like'] and eig['cam'].shape == (32, 32)


def test_cam_cli_writes_png(lenet_run, photo_dir, tmp_path):
    out, raw = tmp_path / 'cam.png', tmp_path / 'cam.npy'
    with pytest.raises(SystemExit) as e:
        main(['cam', 'lenet5_digits', str(photo_dir / 'coffee.jpg'), '--checkpoint', lenet_run['checkpoint'],
              '--method', 'gradcam++', '--target-category', '3', '--out', str(out), '--save-cam', str(raw)])
    assert e.value.code == 0 and is_png(out)
    cam = np.load(raw)
    assert cam.shape == (32, 32) and 0 <= cam.min() and cam.max() <= 1.0001
    from PIL import Image
    assert Image.open(out).size[0] == 448  # input and overlay side by side, upscaled to 224
