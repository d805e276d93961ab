"""ChineseCLIP: MMPretrain's names and configs, zero-shot with Chinese names and templates, the ResNet tower with
MMPretrain's arguments, training, tower checks, the OFA-Sys checkpoint layout, and the zero-shot CLI."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from fovea.data.datasets.categories import CIFAR100_CATEGORIES_CN
from fovea.data.text.prompts import CHINESE_CLIP_TEMPLATES
from fovea.models.weights import load_weights
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import CheckpointError, ConfigError
from tests.multimodal.chinese_clip_testutil import TINY_RN, model_cfg, tiny_chinese_clip, write_vocab

CLASSES = ['猫', '狗', '汽车']


@pytest.fixture(scope='module')
def vocab(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp('cn_vocab'))


@pytest.fixture(scope='module')
def model(vocab):
    torch.manual_seed(0)
    return tiny_chinese_clip(vocab, text_prototype=CLASSES, text_prompt=['一张{}的照片', '{}的照片。'])


def test_state_dict_names_are_mmpretrains(model):
    keys = set(model.state_dict())
    assert {'vision_projection', 'text_projection', 'logit_scale', 'vision_backbone.cls_token',
            'vision_backbone.layers.0.attn.qkv.weight', 'text_backbone.embeddings.word_embeddings.weight',
            'text_backbone.embeddings.token_type_embeddings.weight',
            'text_backbone.encoder.layer.1.attention.self.query.weight',
            'text_backbone.encoder.layer.1.output.LayerNorm.bias'} <= keys
    assert not any('crossattention' in k or 'pooler' in k for k in keys)


def test_features_and_zero_shot_with_chinese_prompts(model):
    images = torch.randn(2, 3, 32, 32)
    img, txt = model.extract_feat(images, ['一张猫的照片', '红色汽车'])
    assert img.shape == txt.shape == (2, 32) and torch.allclose(img.norm(dim=-1), torch.ones(2))
    tokens = model.tokenize(['一张猫的照片'])
    hidden = model.text_backbone(tokens, attention_mask=tokens.ne(0)).last_hidden_state
    assert torch.allclose(model.extract_text_feat(tokens), hidden[:, 0] @ model.text_projection)   # [CLS] pooled
    # padding is masked: more [PAD] columns change nothing
    longer = F.pad(tokens, (0, 8))
    assert torch.allclose(model.extract_text_feat(longer), model.extract_text_feat(tokens), atol=1e-6)
    protos = model.class_embeddings()
    per_template = torch.stack([F.normalize(model.extract_text_feat([t.format(c) for t in model.templates]), dim=-1)
                                .mean(0) for c in CLASSES])
    assert torch.allclose(protos, F.normalize(per_template, dim=-1), atol=1e-6)
    out = model.predict(images)
    logits = model.logit_scale.exp() * img @ protos.T
    assert torch.allclose(out[0].pred_score, logits.softmax(-1)[0], atol=1e-5)


def test_mmpretrain_set_names_mean_chinese_cifar100_and_templates(vocab):
    m = tiny_chinese_clip(vocab, text_prototype='cifar100')
    assert m._classes() == CIFAR100_CATEGORIES_CN and m.templates == CHINESE_CLIP_TEMPLATES
    assert len(CHINESE_CLIP_TEMPLATES) == 183 and m._classes()[:3] == ('苹果', '水族馆鱼', '婴儿')
    with pytest.raises(ConfigError, match="'cifar100'"):
        tiny_chinese_clip(vocab)._classes()


def test_builds_and_embeds_images_without_the_vocabulary(tmp_path, monkeypatch):
    monkeypatch.setenv('FOVEA_HOME', str(tmp_path))
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    m = tiny_chinese_clip(None)
    assert m.extract_image_feat(torch.randn(1, 3, 32, 32)).shape == (1, 32)
    assert m.extract_text_feat(torch.tensor([[2, 5, 3, 0]])).shape == (1, 32)    # ids need no vocabulary
    with pytest.raises(ConfigError, match='tokenizers/chinese_clip/vocab.txt'):
        m.tokenize('猫')


def test_resnet_tower_takes_mmpretrains_arguments(vocab):
    m = tiny_chinese_clip(vocab, vision=TINY_RN)
    assert m.vision_projection is None and 'vision_backbone.attnpool.c_proj.weight' in m.state_dict()
    assert m.extract_image_feat(torch.randn(2, 3, 64, 64)).shape == (2, 32)
    rn50 = MODELS.build(dict(type='ModifiedResNet', depth=50, base_channels=64, input_size=224, num_attn_heads=32,
                             output_dim=1024), key='vision_backbone')
    assert [len(getattr(rn50, f'layer{i}')) for i in range(1, 5)] == [3, 4, 6, 3] and rn50.attnpool.num_heads == 32
    with pytest.raises(ConfigError, match='proj_dim=64 does not match'):
        tiny_chinese_clip(vocab, vision=TINY_RN, proj_dim=64)
    with pytest.raises(ConfigError, match='disagree'):
        MODELS.build(dict(type='ModifiedResNet', depth=50, layers=[1, 1, 1, 1]))


def test_trains_contrastively_and_locks_the_text_tower(vocab):
    m = tiny_chinese_clip(vocab, lock_text=True).train()
    samples = [DataSample(text=t) for t in ('一张猫的照片', '狗在草地上跑', '红色汽车')]
    loss = m.loss(torch.randn(3, 3, 32, 32), samples)['loss']
    loss.backward()
    assert loss.item() > 0 and m.vision_projection.grad is not None
    assert m.text_projection.grad is None and not m.text_backbone.training
    assert all(p.grad is None for p in m.text_backbone.parameters())


def test_checkpoint_of_another_tower_is_refused_naming_it(vocab):
    vit = tiny_chinese_clip(vocab)
    rn = tiny_chinese_clip(vocab, vision=TINY_RN)
    with pytest.raises(CheckpointError, match='image tower is a ModifiedResNet'):
        load_weights(vit, rn.state_dict())
    wide = tiny_chinese_clip(vocab, proj_dim=48)
    with pytest.raises(CheckpointError, match='text_projection'):
        load_weights(vit, {k: v for k, v in wide.state_dict().items() if not k.startswith('vision')}
                     | {k: v for k, v in vit.state_dict().items() if k.startswith('vision')})


def to_ofa_sys(m, dtype: torch.dtype = torch.float16) -> dict:
    """The fovea model's weights in OFA-Sys' layout (OpenAI's visual names, bert., module. prefixes), as ``dtype``."""
    sd, out = m.state_dict(), {}
    for k, v in sd.items():
        if k.startswith('text_backbone.'):
            out['bert.' + k[len('text_backbone.'):]] = v
    vb = {k[len('vision_backbone.'):]: v for k, v in sd.items() if k.startswith('vision_backbone.')}
    out.update({'visual.conv1.weight': vb['patch_embed.projection.weight'], 'visual.class_embedding': vb['cls_token'][0, 0],
                'visual.positional_embedding': vb['pos_embed'][0], 'visual.proj': sd['vision_projection'],
                'text_projection': sd['text_projection'], 'logit_scale': sd['logit_scale']})
    for a, b in (('pre_norm', 'ln_pre'), ('ln1', 'ln_post')):
        for p in ('weight', 'bias'):
            out[f'visual.{b}.{p}'] = vb[f'{a}.{p}']
    names = {'ln1': 'ln_1', 'ln2': 'ln_2', 'attn.qkv.weight': 'attn.in_proj_weight', 'attn.qkv.bias': 'attn.in_proj_bias',
             'attn.proj': 'attn.out_proj', 'ffn.layers.0.0': 'mlp.c_fc', 'ffn.layers.1': 'mlp.c_proj'}
    for k, v in vb.items():
        if k.startswith('layers.'):
            i, rest = k.split('.', 2)[1:]
            for a, b in names.items():
                if rest.startswith(a):
                    out[f'visual.transformer.resblocks.{i}.{b}{rest[len(a):]}'] = v
    out['bert.pooler.dense.weight'] = torch.zeros(4, 4)     # OFA-Sys' BERT has a pooler Chinese CLIP never uses
    return {'state_dict': {'module.' + k: v.to(dtype) for k, v in out.items()}, 'epoch': 3}


def test_ofa_sys_checkpoint_converts(model, vocab, tmp_path):
    path = tmp_path / 'clip_cn_tiny.pt'
    torch.save(to_ofa_sys(model), path)
    fresh = tiny_chinese_clip(vocab)
    load_weights(fresh, str(path), strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v.half().float()), k


def test_zero_shot_cli_with_chinese_class_names(vocab, tmp_path, capsys):
    from fovea.cli.main import main
    pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
    cfg = tmp_path / 'tiny_cn_clip.json'
    cfg.write_text(json.dumps({'model': model_cfg(vocab), 'test_pipeline': pipeline,
                               'test_dataloader': {'dataset': {'type': 'CustomDataset', 'pipeline': pipeline}}}),
                   encoding='utf-8')
    images = tmp_path / 'images'
    images.mkdir()
    for i, rgb in enumerate([(200, 20, 20), (20, 20, 200)]):
        Image.new('RGB', (40, 36), rgb).save(images / f'{i}.png')
    out = tmp_path / 'pred.json'
    with pytest.raises(SystemExit) as done:
        main(['zero-shot', str(cfg), str(images), '--classes', '红色', '蓝色', '--templates', '{}的照片',
              '--device', 'cpu', '--out', str(out)])
    assert done.value.code == 0 and '蓝色 (0.' in capsys.readouterr().out
    records = json.loads(out.read_text(encoding='utf-8'))
    assert records['classes'] == ['红色', '蓝色'] and len(records['predictions']) == 2
    assert all(r['pred_class'] in ('红色', '蓝色') for r in records['predictions'])
    from fovea.apis.inference import inference_model
    res = inference_model(str(cfg), str(images / '0.png'), device='cpu', classes=['红色', '蓝色'], templates='openai')
    assert res['pred_class'] in ('红色', '蓝色') and abs(float(res['pred_scores'].sum()) - 1) < 1e-5
    # retrieval in both directions with Chinese texts, CLIP's inferencers unchanged
    from fovea.apis.multimodal import ImageToTextRetrievalInferencer, TextToImageRetrievalInferencer
    search = TextToImageRetrievalInferencer(str(cfg), prototype=str(images), device='cpu')
    hits = search(['红色汽车', '蓝色的鸟'], topk=2)
    model = search.model
    assert len(hits) == 2 and {h['sample_idx'] for h in hits[0]} == {0, 1}
    with torch.no_grad():
        text_feats = F.normalize(model.extract_text_feat(['红色汽车']), dim=-1)
    assert abs(hits[0][0]['match_score'] - float((text_feats @ search.prototype.T).max())) < 1e-5
    captions = ImageToTextRetrievalInferencer(model, prototype=['红色汽车', '蓝色的鸟', '一张猫的照片'], device='cpu')
    assert [len(r) for r in captions(str(images / '1.png'), topk=2)] == [2]


def test_ofa_sys_resnet_checkpoint_converts(vocab):
    src = tiny_chinese_clip(vocab, vision=TINY_RN)
    sd = src.state_dict()
    ofa = {('visual.' + k[len('vision_backbone.'):] if k.startswith('vision_backbone.') else
            'bert.' + k[len('text_backbone.'):] if k.startswith('text_backbone.') else k): v for k, v in sd.items()}
    fresh = tiny_chinese_clip(vocab, vision=TINY_RN)
    load_weights(fresh, {'state_dict': {'module.' + k: v for k, v in ofa.items()}}, strict=True)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in sd.items())
