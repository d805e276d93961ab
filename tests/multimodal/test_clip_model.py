"""CLIP in fovea: training loss and its side effects, frozen towers, zero-shot prototypes, weights and
the bad-input errors (towers that do not match the config, empty class lists, missing captions)."""
from __future__ import annotations

import math

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.structures import DataSample
from fovea.utils.errors import CheckpointError, ConfigError, DataError
from fovea.utils.weights import read_weights
from tests.multimodal.clip_testutil import TINY_RN, TINY_VIT, tiny_clip


def _batch(n=4, size=32):
    samples = [DataSample(text=f'a photo of number {i}') for i in range(n)]
    return torch.randn(n, 3, size, size), samples


def test_loss_trains_and_clamps_logit_scale():
    model = tiny_clip().train()
    images, samples = _batch()
    losses = model.loss(images, samples)
    assert set(losses) == {'loss', 'logit_scale'} and torch.isfinite(losses['loss'])
    assert abs(losses['loss'].item() - math.log(4)) < 1.0  # near chance at initialisation
    losses['loss'].backward()
    assert model.visual.patch_embed.projection.weight.grad is not None
    assert model.token_embedding.weight.grad is not None and model.logit_scale.grad is not None
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.after_optimizer_step(1)
    assert model.logit_scale.item() == pytest.approx(math.log(100))


@pytest.mark.parametrize('which', ['lock_image', 'lock_text'])
def test_locked_towers_get_no_gradient(which):
    model = tiny_clip(**{which: True}).train()
    images, samples = _batch()
    model.loss(images, samples)['loss'].backward()
    image_grad = model.visual.patch_embed.projection.weight.grad
    text_grad = model.transformer.resblocks[0].attn.in_proj_weight.grad
    if which == 'lock_image':
        assert image_grad is None and text_grad is not None and not model.visual.training
    else:
        assert text_grad is None and image_grad is not None and not model.transformer.training


def test_zero_shot_prototypes_are_cached_until_weights_change():
    model = tiny_clip().eval()
    model.set_classes(['cat', 'dog', 'ship'], ['a photo of a {}.', 'art of a {}.'])
    first = model.class_embeddings()
    assert first.shape == (3, 32) and torch.allclose(first.norm(dim=-1), torch.ones(3))
    assert model.class_embeddings() is first
    model.after_optimizer_step(1)
    assert model.class_embeddings() is not first
    preds = model.predict(torch.randn(2, 3, 32, 32))
    assert preds[0].pred_score.shape == (3,) and preds[0].pred_label.item() in (0, 1, 2)


def test_empty_class_list_and_bad_templates_are_clear_errors():
    model = tiny_clip()
    with pytest.raises(ConfigError, match='class list is empty'):
        model.set_classes([])
    with pytest.raises(ConfigError, match='exactly one'):
        model.set_classes(['cat'], ['a photo of a cat'])
    with pytest.raises(ConfigError, match='needs class names'):
        model.predict(torch.randn(1, 3, 32, 32))


def test_missing_caption_is_a_data_error():
    model = tiny_clip()
    images, samples = _batch(2)
    del samples[1].text
    with pytest.raises(DataError, match=r"sample\(s\) \[1\].*text"):
        model.loss(images, samples)


def test_checkpoint_with_other_image_tower_is_refused_naming_it():
    vit = tiny_clip(TINY_VIT)
    rn = tiny_clip(TINY_RN)
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    with pytest.raises(CheckpointError, match='image tower is a ModifiedResNet.*VisionTransformer'):
        load_weights(vit, rn.state_dict())
    wide = dict(TINY_VIT, text_cfg=dict(TINY_VIT['text_cfg'], layers=1))
    other = tiny_clip(dict(TINY_VIT, vision_cfg=dict(TINY_VIT['vision_cfg'], patch_size=16)))
    with pytest.raises(CheckpointError, match=r'image tower.*patch_embed.projection.weight'):
        load_weights(vit, other.state_dict())
    text_ckpt = {k: v for k, v in vit.state_dict().items()}
    text_ckpt['token_embedding.weight'] = torch.zeros(49408, 48)
    with pytest.raises(CheckpointError, match='text tower'):
        load_weights(vit, text_ckpt)
    assert all(torch.equal(v, before[k]) for k, v in vit.state_dict().items())  # nothing half-loaded
    assert tiny_clip(wide) is not None


def test_torchscript_archive_is_read_without_running_it(tmp_path, monkeypatch):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
            self.scale = torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, x):
            return self.visual(x) * self.scale
    net = Net().half()
    path = tmp_path / 'net.pt'
    torch.jit.save(torch.jit.trace(net, torch.randn(1, 3, 8, 8).half()), str(path))
    monkeypatch.setattr(torch.jit, 'load', lambda *a, **k: pytest.fail('torch.jit.load was called'))
    sd = read_weights(path)
    assert set(sd) == set(net.state_dict())
    assert all(torch.equal(sd[k], v) and sd[k].dtype == v.dtype for k, v in net.state_dict().items())
    assert sd["visual.0.weight"].dtype == torch.float16


def test_text_features_ignore_padding_after_the_end_token():
    model = tiny_clip().eval()
    tokens = model.tokenize(['a cat', 'a much longer caption about a dog on a beach'])
    with torch.no_grad():
        full = model.extract_text_feat(tokens)
        single = model.extract_text_feat(tokens[:1])
    torch.testing.assert_close(full[:1], single, atol=1e-5, rtol=0)


@pytest.mark.parametrize('name,params', [('clip_vit-base-p32_openai', 151_277_313), ('clip_vit-base-p16_openai', 149_620_737),
                                         ('clip_vit-large-p14_openai', 427_616_513), ('clip_rn50_openai', 102_007_137)])
def test_shipped_openai_configs_have_the_published_sizes(name, params):
    """OpenAI's CLIP sizes (open_clip's model table: 151.28M, 149.62M, 427.62M, 102.01M)."""
    from fovea.config import Config
    from fovea.registry import MODELS
    with torch.device('meta'):
        model = MODELS.build(Config.fromfile(name).model_cfg())
    assert sum(p.numel() for p in model.parameters()) == params


def test_same_label_positives():
    from fovea.models.losses import ClipLoss
    img = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    scale = torch.tensor(10.0)
    distinct = torch.arange(6)
    plain = ClipLoss()(img, txt, scale)
    # distinct labels: the usual loss
    assert torch.allclose(ClipLoss(same_label_positives=True)(img, txt, scale, distinct), plain)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = ClipLoss(same_label_positives=True)(img, txt, scale, labels)
    logits = scale * img @ txt.T
    target = (labels[:, None] == labels[None]).float() / 2
    expected = (-(target * logits.log_softmax(1)).sum(1).mean() - (target * logits.T.log_softmax(1)).sum(1).mean()) / 2
    assert torch.allclose(loss, expected)
    model = tiny_clip(loss=dict(type='ClipLoss', same_label_positives=True))
    images, samples = _batch(2)
    with pytest.raises(DataError, match='gt_label'):
        model.loss(images, samples)
    for i, s in enumerate(samples):
        s.set_gt_label(i % 1)
    assert torch.isfinite(model.loss(images, samples)['loss'])
