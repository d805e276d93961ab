"""Video recognition with 2D backbones: the temporal shift (MMAction2's ResNetTSM/MobileNetV2TSM), the
TSN/TSM heads' consensus and multi-clip averaging, ImageNet weights in the recognizer's backbone, and
the proof that TSM learns the direction of motion while TSN (frame order invisible to it) cannot."""
from __future__ import annotations

import pytest
import torch

from fovea.models.video.temporal_shift import temporal_shift
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

TINY_RESNET = dict(depth=18, base_channels=8, stem_channels=8)


def test_temporal_shift_moves_one_eighth_each_way_with_zero_padding():
    n, t, c = 2, 4, 16
    x = torch.arange(n * t * c, dtype=torch.float32).view(n * t, c, 1, 1) + 1  # no zeros in the input
    out = temporal_shift(x, t, shift_div=8).view(n, t, c)
    ref = x.view(n, t, c)
    assert torch.equal(out[:, :-1, :2], ref[:, 1:, :2])        # channels 0-1: frame t gets frame t+1
    assert torch.equal(out[:, -1, :2], torch.zeros(n, 2))      # ... the last frame gets zeros
    assert torch.equal(out[:, 1:, 2:4], ref[:, :-1, 2:4])      # channels 2-3: frame t gets frame t-1
    assert torch.equal(out[:, 0, 2:4], torch.zeros(n, 2))
    assert torch.equal(out[:, :, 4:], ref[:, :, 4:])           # the other 3/4 stay
    with pytest.raises(ValueError, match='multiple of num_segments'):
        temporal_shift(x[:7], t)


def test_shift_sits_on_the_residual_branch_of_every_block():
    r50 = MODELS.build(dict(type='ResNetTSM', depth=50, base_channels=8, stem_channels=8, num_segments=4))
    assert len(r50.shifted_modules) == 3 + 4 + 6 + 3
    assert all(m is b.conv1 for m, b in zip(r50.shifted_modules, [b for i in range(1, 5) for b in getattr(r50, f'layer{i}')]))
    r101 = MODELS.build(dict(type='ResNetTSM', depth=101, base_channels=8, stem_channels=8))
    assert len(r101.shifted_modules) == 2 + 2 + 12 + 2      # MMAction2: every other block from 23 blocks on
    mb = MODELS.build(dict(type='MobileNetV2TSM', widen_factor=0.25))
    assert len(mb.shifted_modules) == 10                     # blocks with a shortcut and an expansion conv
    assert all(m._forward_pre_hooks for m in mb.shifted_modules)
    # the keys are those of the 2D backbone, so 2D checkpoints load as they are
    assert set(r50.state_dict()) == set(MODELS.build(dict(type='ResNet', depth=50, base_channels=8,
                                                          stem_channels=8)).state_dict())
    # frames of one video influence each other only through the shift
    net = MODELS.build(dict(type='ResNetTSM', num_segments=4, **TINY_RESNET)).eval()
    plain = MODELS.build(dict(type='ResNet', **TINY_RESNET)).eval()
    plain.load_state_dict(net.state_dict())
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        a, b = net(x)[-1], plain(x)[-1]
        x2 = x.clone()
        x2[3] += 1                                           # a frame of the first video only
        a2 = net(x2)[-1]
    assert not torch.allclose(a, b)
    assert not torch.allclose(a2[:4], a[:4]) and torch.equal(a2[4:], a[4:])
    with pytest.raises(ConfigError, match='blockres'):
        MODELS.build(dict(type='ResNetTSM', shift_place='block', **TINY_RESNET))


def _recognizer(head: str, backbone: str = 'ResNetTSM', **head_kwargs):
    bb = dict(type=backbone, **TINY_RESNET)
    if backbone == 'ResNetTSM':
        bb['num_segments'] = 4
    model = MODELS.build(dict(type='Recognizer2D', backbone=bb,
                              cls_head=dict(type=head, num_classes=3, in_channels=64, dropout_ratio=0, **head_kwargs)))
    model.init_weights()
    return model.eval()


def test_tsm_head_averages_the_clips_and_tsn_head_the_frames():
    samples = [DataSample().set_gt_label(0), DataSample().set_gt_label(2)]
    x = torch.randint(0, 256, (2, 8, 3, 32, 32), dtype=torch.uint8)   # two clips of 4 segments per video
    tsm = _recognizer('TSMHead', num_segments=4, average_clips='prob')
    with torch.no_grad():
        batch = tsm.data_preprocessor({'inputs': x, 'data_samples': samples})
        feats, num_segs = tsm.extract_feat(batch['inputs'])
        clip_scores = tsm.cls_head(feats, num_segs)                    # (2 videos * 2 clips, classes)
        preds = tsm.predict(batch['inputs'], [DataSample(), DataSample()])
    assert num_segs == 8 and clip_scores.shape == (4, 3)
    want = clip_scores.view(2, 2, 3).softmax(-1).mean(1)
    assert torch.allclose(torch.stack([p.pred_score for p in preds]), want, atol=1e-6)
    assert [int(p.pred_label) for p in preds] == want.argmax(1).tolist()
    tsn = _recognizer('TSNHead', backbone='ResNet', average_clips='score')
    with torch.no_grad():
        batch = tsn.data_preprocessor({'inputs': x, 'data_samples': samples})
        feats = tsn.backbone(batch['inputs'].flatten(0, 1))[-1]
        want = tsn.cls_head.fc_cls(feats.mean((2, 3)).view(2, 8, -1).mean(1))
        preds = tsn.predict(batch['inputs'], samples)
        losses = tsn.loss(batch['inputs'], samples)
    assert torch.allclose(torch.stack([p.pred_score for p in preds]), want, atol=1e-5)
    assert set(losses) == {'loss_cls', 'top1_acc'}                      # top-5 left out with 3 classes
    with pytest.raises(ValueError, match='one clip'):                   # 2 clips per video in training
        tsm.loss(tsm.data_preprocessor({'inputs': x, 'data_samples': samples})['inputs'], samples)


def test_head_width_is_checked_against_the_backbone_contract():
    with pytest.raises(ConfigError, match='in_channels=64'):
        MODELS.build(dict(type='Recognizer2D', backbone=dict(type='ResNet', **TINY_RESNET),
                          cls_head=dict(type='TSNHead', num_classes=3, in_channels=2048)))


def test_imagenet_weights_load_into_the_recognizer_backbone(tmp_path):
    """An ImageNet classifier's checkpoint (fovea's format) initialises the TSM backbone through
    init_cfg Pretrained with prefix 'backbone.'; the TSM head stays freshly initialised."""
    cls = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='ResNet', **TINY_RESNET),
                            neck=dict(type='GlobalAveragePooling'),
                            head=dict(type='LinearClsHead', num_classes=1000, in_channels=64)))
    cls.init_weights()
    with torch.no_grad():
        for p in cls.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / 'imagenet.pth'
    torch.save({'state_dict': cls.state_dict(), 'meta': {'epoch': 100}}, path)
    rec = MODELS.build(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNetTSM', num_segments=8,
                      init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'), **TINY_RESNET),
        cls_head=dict(type='TSMHead', num_classes=5, in_channels=64)))
    rec.init_weights()
    want = cls.backbone.state_dict()
    got = rec.backbone.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert rec.cls_head.fc_cls.weight.std() < 0.01                      # TSMHead's init_std=0.001


# ---------------------------------------------------------------- the proof: direction of motion
def _train_and_test(tmp_path, shift: bool) -> float:
    pytest.importorskip('av', reason="PyAV writes and decodes the clips: pip install 'fovea[video]'")
    from fovea.config import Config
    from fovea.engine.runner import Runner
    from video_testutil import write_motion_folder

    data = tmp_path / 'videos'
    if not data.exists():
        clips = dict(frames=8, speed=2)   # 32 x 32 px, one frame per segment, 2 px apart
        write_motion_folder(data / 'train', per_class=64, seed=0, **clips)
        write_motion_folder(data / 'val', per_class=32, seed=1, **clips)
    seg = 8

    def pipeline(test_mode=False):
        return [dict(type='PyAVInit'),
                dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=seg, test_mode=test_mode),
                dict(type='PyAVDecode'), dict(type='PackInputs')]

    def loader(prefix, pipe, shuffle=False, bs=16):
        return dict(batch_size=bs, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=shuffle),
                    dataset=dict(type='VideoDataset', data_root=str(data), data_prefix=prefix, pipeline=pipe,
                                 test_mode=not shuffle))

    # shift_div=4: the 8 channels of the first stage shift 2 each way (1 with MMAction2's 8)
    backbone = (dict(type='ResNetTSM', num_segments=seg, shift_div=4, **TINY_RESNET) if shift
                else dict(type='ResNet', **TINY_RESNET))
    head = (dict(type='TSMHead', num_segments=seg, dropout_ratio=0.5) if shift
            else dict(type='TSNHead', dropout_ratio=0.4))
    cfg = Config(dict(
        work_dir=str(tmp_path / ('tsm' if shift else 'tsn')),
        model=dict(type='Recognizer2D', backbone=backbone,
                   cls_head=dict(num_classes=2, in_channels=64, average_clips='prob', **head),
                   data_preprocessor=dict(type='ActionDataPreprocessor', mean=[40.] * 3, std=[50.] * 3)),
        train_dataloader=loader('train', pipeline(), shuffle=True),
        test_dataloader=loader('val', pipeline(test_mode=True)),
        test_evaluator=dict(type='Accuracy', topk=(1,)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)),
        param_scheduler=dict(type='CosineAnnealingLR', by_epoch=True, T_max=14),
        train_cfg=dict(by_epoch=True, max_epochs=14), val_cfg=dict(), test_cfg=dict(),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=100), checkpoint=None),
        env_cfg=dict(precision='fp32'), randomness=dict(seed=0)))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.test()['accuracy/top1']


@pytest.mark.slow
def test_tsm_learns_the_direction_of_motion_and_tsn_cannot(tmp_path):
    tsm = _train_and_test(tmp_path, shift=True)
    tsn = _train_and_test(tmp_path, shift=False)
    assert tsm >= 95 and 35 <= tsn <= 65, (tsm, tsn)
