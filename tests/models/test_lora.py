"""LoRAModel (MMPretrain's PEFT wrapper): exact start, only LoRA trains and is saved, merging, errors."""
from pathlib import Path

import pytest
import torch

from fovea.models.peft import LoRALinear, LoRAModel
from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigError

VIT = dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=8)
MMPRETRAIN_CONFIGS = Path('/work/refvenv/lib/python3.11/site-packages/mmpretrain/.mim/configs')


def _pretrained(tmp_path):
    base = build(VIT, MODELS).eval()
    path = tmp_path / 'vit.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in base.state_dict().items()}}, path)
    return base, str(path)


def _classifier(ckpt, rank=4, targets=(dict(type='qkv'),)):
    cfg = dict(type='ImageClassifier', neck=None,
               backbone=dict(type='LoRAModel', alpha=16, rank=rank, targets=list(targets),
                             module=dict(VIT, init_cfg=dict(type='Pretrained', checkpoint=ckpt, prefix='backbone'))),
               head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=192))
    model = build(cfg, MODELS)
    model.init_weights()
    return model


def test_starts_at_the_pretrained_function_and_only_lora_trains(tmp_path):
    base, ckpt = _pretrained(tmp_path)
    model = _classifier(ckpt).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model.backbone(x)[0], base(x)[0])          # lora_up starts at zero
    assert model.backbone.replaced == [f'layers.{i}.attn.qkv' for i in range(12)]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all('.lora_' in n or n.startswith('head.') for n in trainable)
    # rank * (in + out) per adapted qkv (192 -> 576), plus the head
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 12 * 4 * (192 + 576) + 192 * 10 + 10
    assert model.backbone.out_indices == base.out_indices          # the wrapped module's attributes


def test_state_dict_holds_lora_and_head_only_and_loads_strictly(tmp_path):
    _, ckpt = _pretrained(tmp_path)
    model = _classifier(ckpt)
    keys = list(model.state_dict())
    assert keys[0] == 'backbone.module.layers.0.attn.qkv.lora_down.weight'   # MMPretrain's key names
    assert all('.lora_' in k or k.startswith('head.') for k in keys)
    assert len(keys) == 12 * 2 + 2
    trained = {k: v + 0.1 for k, v in model.state_dict().items()}
    fresh = _classifier(ckpt)
    result = fresh.load_state_dict(trained, strict=True)             # frozen weights are not "missing"
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.backbone.module.layers[3].attn.qkv.lora_up.weight,
                       trained['backbone.module.layers.3.attn.qkv.lora_up.weight'])
    del trained['backbone.module.layers.3.attn.qkv.lora_up.weight']
    with pytest.raises(RuntimeError, match='layers.3.attn.qkv.lora_up.weight'):   # LoRA tensors are required
        fresh.load_state_dict(trained, strict=True)


def test_training_moves_lora_weights_only(tmp_path):
    _, ckpt = _pretrained(tmp_path)
    model = _classifier(ckpt).train()
    frozen = model.backbone.module.layers[0].attn.qkv.original_layer.weight.clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    losses = []
    for _ in range(4):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert torch.equal(model.backbone.module.layers[0].attn.qkv.original_layer.weight, frozen)
    assert model.backbone.module.layers[0].attn.qkv.lora_up.weight.abs().sum() > 0


def test_merge_lora_gives_a_plain_model_with_the_same_outputs(tmp_path):
    _, ckpt = _pretrained(tmp_path)
    model = _classifier(ckpt, targets=[dict(type='qkv'), dict(type=r'layers\.\d+\.ffn\.layers\.1', rank=2)])
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_up.weight.normal_(0, 0.02)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    before = model(x)
    merged = model.backbone.merge_lora()
    assert not any(isinstance(m, LoRALinear) for m in merged.modules())
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=1e-5)


def test_bad_targets_are_config_errors(tmp_path):
    _, ckpt = _pretrained(tmp_path)
    with pytest.raises(ConfigError, match='at least one target'):
        LoRAModel(module=VIT, rank=4, targets=[])
    with pytest.raises(ConfigError, match=r"match no nn.Linear layer of VisionTransformer.*layers.0.attn.qkv"):
        LoRAModel(module=VIT, rank=4, targets=[dict(type='not_a_layer')])
    with pytest.raises(ConfigError, match='rank must be a positive integer'):
        LoRAModel(module=VIT, targets=[dict(type='qkv')])            # MMPretrain's default rank=0
    with pytest.raises(ConfigError, match="Pretrained.*no checkpoint"):
        LoRAModel(module=dict(VIT, init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone')),
                  rank=4, targets=[dict(type='qkv')])


@pytest.mark.reference
def test_mmpretrain_lora_config_builds_and_starts_at_the_pretrained_vit(tmp_path):
    cfg_file = MMPRETRAIN_CONFIGS / 'vision_transformer' / 'vit-base-p16_8xb64-lora_in1k-384px.py'
    if not cfg_file.is_file():
        pytest.skip('MMPretrain 1.2.0 configs not installed (/work/refvenv)')
    from fovea.config import Config
    vit = build(dict(type='VisionTransformer', arch='b', img_size=384, patch_size=16), MODELS).eval()
    ckpt = tmp_path / 'vit-b.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in vit.state_dict().items()}}, ckpt)
    cfg = Config.fromfile(str(cfg_file), [f'model.backbone.module.init_cfg.checkpoint={ckpt}'])
    model = build(cfg.model_cfg(), MODELS).eval()
    assert len(model.backbone.replaced) == 12
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x)[0], vit(x)[0])
