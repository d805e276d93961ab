"""The SPOS search spaces, the one-shot op and the mutator: published sizes, fixed supernet ==
standalone subnet, subnet YAML (MMRazor 1.x and 0.x) round trips, and clear errors for bad subnets."""
from __future__ import annotations

import copy

import pytest
import torch

from fovea.config import Config
from fovea.nas.models import MacsTable, NasMutator, OneShotMutableOP, fix_subnet, read_subnet_yaml, write_subnet_yaml
from fovea.registry import MODELS
from fovea.tools.complexity import get_model_complexity
from fovea.utils.errors import ConfigError

PAPER = (2, 1, 0, 1, 2, 0, 2, 0, 2, 0, 2, 3, 0, 0, 0, 0, 3, 2, 3, 3)


def _supernet(**backbone):
    """The full SPOS ShuffleNetV2 supernet on the meta device (no memory, no initialisation)."""
    with torch.device('meta'):
        return MODELS.build(dict(type='ImageClassifier', backbone=dict(type='SearchableShuffleNetV2', **backbone),
                                 neck=dict(type='GlobalAveragePooling'),
                                 head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024)))


@pytest.fixture(scope='module')
def meta_supernet():
    """Shared by tests that only read it (bad subnets fail before anything is fixed)."""
    return _supernet()


def _tiny_cfg() -> dict:
    """Two stages of two one-shot layers with the four SPOS candidates, 10 classes."""
    from fovea.nas.models.spaces import SPOS_SHUFFLENET_CANDIDATES
    layer = dict(type='OneShotMutableOP', candidates=SPOS_SHUFFLENET_CANDIDATES)
    return dict(type='ImageClassifier',
                backbone=dict(type='SearchableShuffleNetV2', last_channels=64,
                              arch_setting=[[16, 2, layer], [32, 2, layer]]),
                neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=10, in_channels=64))


def _build(name: str):
    with torch.device('meta'):
        return MODELS.build(Config.fromfile(name).model_cfg())


def test_shipped_subnets_have_the_published_sizes():
    """MMRazor's zoo row (3.35 M, 0.33 G) is its own searched subnet (SPOS_SUBNET.yaml): 3.35 M parameters
    by fovea's counter. The paper's subnet is the one whose MACs match 0.33 G (within 3%); it is larger
    (3.56 M). MMRazor's 0.33 G is a budget, its counter adds element-wise operations fovea leaves out."""
    mm = _build('spos/spos_shufflenet_subnet_8xb128_in1k.py')
    paper = _build('spos/spos_shufflenet_paper_subnet_8xb128_in1k.py')
    c_mm, c_paper = get_model_complexity(mm), get_model_complexity(paper)
    assert abs(c_mm['params'] / 1e6 - 3.35) <= 0.01
    assert abs(c_paper['macs'] / 0.33e9 - 1) <= 0.03
    assert c_paper['params'] == 3_558_952 and c_mm['macs'] == 316_019_520
    # the paper YAML is the architecture (2,1,0,1,...) in the order 3x3, 5x5, 7x7, xception
    from fovea.nas.models.spaces import SPOS_SHUFFLENET_CANDIDATES
    assert [paper.fixed_subnet[n] for n in sorted(paper.fixed_subnet)][:3] == ['shuffle_7x7', 'shuffle_5x5',
                                                                                'shuffle_3x3']
    order = list(SPOS_SHUFFLENET_CANDIDATES)
    assert tuple(order.index(c) for c in paper.fixed_subnet.values()) == PAPER
    # fixed layers keep only the chosen op, under MMRazor's names
    assert 'backbone.layers.0.0._candidates.shuffle_7x7.branch1.0.conv.weight' in paper.state_dict()
    assert not any('shuffle_3x3' in k for k in paper.state_dict() if k.startswith('backbone.layers.0.0.'))


def test_mobilenet_space_matches_mmrazor():
    """22 one-shot layers; AngleNAS's searched subnet has MMRazor's 5.94 M parameters."""
    sup = _build('spos/spos_mobilenet_supernet_8xb128_in1k.py')
    mut = sup.mutator
    assert len(mut.names) == 22 and mut.names[0] == 'backbone.layer1.0' and mut.names[-1] == 'backbone.layer7.0'
    assert mut.candidates('backbone.layer2.0') == ['mb_k3e3', 'mb_k5e3', 'mb_k7e3', 'mb_k3e6', 'mb_k5e6',
                                                   'mb_k7e6', 'identity']
    assert sup.architecture.backbone.conv1.conv.out_channels == 40
    assert sup.architecture.backbone.stage_channels[-1] == 1728
    # MMRazor 0.x's SPOS_MOBILENET_490M_FROM_ANGELNAS.yaml, layer by layer
    angle = ['mb_k3e1', 'mb_k5e3', 'mb_k5e3', 'identity', 'mb_k3e3', 'mb_k3e3', 'identity', 'identity', 'mb_k3e3',
             'mb_k7e6', 'identity', 'mb_k7e3', 'mb_k7e3', 'mb_k3e3', 'mb_k3e3', 'mb_k7e3', 'mb_k5e3', 'mb_k5e6',
             'mb_k7e3', 'mb_k7e3', 'mb_k7e3', 'mb_k5e6']
    subnet = copy.deepcopy(sup.architecture)
    NasMutator(subnet).fix_choices(dict(zip(mut.names, angle)))
    assert abs(sum(p.numel() for p in subnet.parameters()) / 1e6 - 5.94) < 0.005


def test_one_shot_op_choices_sample_and_fix():
    op = OneShotMutableOP(dict(a=dict(type='ShuffleBlock', kernel_size=3), b=dict(type='ShuffleXception')),
                          module_kwargs=dict(in_channels=8, out_channels=8))
    x = torch.randn(2, 8, 6, 6)
    op.eval()
    assert op.choices == ['a', 'b'] and op.current_choice is None
    summed = op(x)  # every candidate, for counting
    torch.testing.assert_close(summed, op._candidates['a'](x) + op._candidates['b'](x))
    import random
    assert {op.sample_choice(random.Random(i)) for i in range(20)} == {'a', 'b'}
    with pytest.raises(ConfigError, match="'c' is not a candidate"):
        op.current_choice = 'c'
    op.current_choice = 'b'
    out_b = op(x)
    op.fix_chosen('b')
    assert op.is_fixed and op.choices == ['b'] and op.dump_chosen() == dict(chosen='b')
    torch.testing.assert_close(op(x), out_b)


def test_fixed_supernet_equals_standalone_subnet_with_copied_weights(tmp_path):
    """The supernet on one path and the sub_model of that path, the weights copied by name, give the same
    outputs; the MACs table agrees with fovea's counter for every path it is asked about."""
    torch.manual_seed(0)
    sup = MODELS.build(_tiny_cfg())
    sup.init_weights()
    for m in sup.modules():  # non-trivial BN statistics, so that eval-mode outputs depend on them
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2)
    mut = NasMutator(sup)
    choices = mut.decode((3, 2, 1, 0))
    write_subnet_yaml(choices, tmp_path / 'subnet.yaml')
    sub = MODELS.build(dict(type='sub_model', cfg=_tiny_cfg(), fix_subnet=str(tmp_path / 'subnet.yaml')))
    missing, unexpected = sub.load_state_dict(sup.state_dict(), strict=False)
    assert not missing and all('_candidates' in k for k in unexpected)
    mut.set_choices(choices)
    sup.eval(), sub.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(sup(x, mode='tensor'), sub(x, mode='tensor'))
        mut.set_choices(mut.decode((0, 0, 0, 0)))
        assert not torch.allclose(sup(x, mode='tensor'), sub(x, mode='tensor'))
    table = MacsTable(sup, (3, 32, 32))
    assert table.macs(choices) == get_model_complexity(sub, (3, 32, 32))['macs']
    assert table.params(choices) == sum(p.numel() for p in sub.parameters())
    other = mut.decode((0, 3, 3, 1))
    sub2 = copy.deepcopy(sup)
    NasMutator(sub2).fix_choices(other)
    assert table.macs(other) == get_model_complexity(sub2, (3, 32, 32))['macs'] != table.macs(choices)


def test_subnet_yaml_round_trip_and_mmrazor_0x_format(tmp_path, meta_supernet):
    mut = NasMutator(meta_supernet)
    import random
    choices = mut.sample_choices(random.Random(3))
    write_subnet_yaml(choices, tmp_path / 'a.yaml')
    text = (tmp_path / 'a.yaml').read_text()
    assert text.startswith(f'backbone.layers.0.0:\n  chosen: {choices["backbone.layers.0.0"]}\n')
    assert mut.parse_subnet(read_subnet_yaml(tmp_path / 'a.yaml')) == choices
    # MMRazor's shipped file reads as it is
    shipped = read_subnet_yaml(Config.fromfile('spos/spos_shufflenet_subnet_8xb128_in1k.py').model['fix_subnet'])
    assert mut.parse_subnet(shipped)['backbone.layers.2.7'] == 'shuffle_7x7'
    # MMRazor 0.x: stage_i_block_j with a one-element list
    legacy = ''.join(f'stage_{n.split(".")[2]}_block_{n.split(".")[3]}:\n  chosen:\n  - {c}\n' for n, c in choices.items())
    (tmp_path / 'old.yaml').write_text(legacy)
    assert mut.parse_subnet(read_subnet_yaml(tmp_path / 'old.yaml')) == choices


@pytest.mark.parametrize('edit, message', [
    (lambda d: d.update({'backbone.layers.0.0': {'chosen': 'shuffle_9x9'}}),
     r"backbone.layers.0.0: unknown op 'shuffle_9x9'.*candidates of this layer are shuffle_3x3, shuffle_5x5"),
    (lambda d: d.update({'backbone.layers.5.0': d.pop('backbone.layers.0.0')}),
     r"'backbone.layers.5.0' is not a searchable layer of this model"),
    (lambda d: d.pop('backbone.layers.3.3'), r'no choice for the layers backbone.layers.3.3'),
    (lambda d: d.update({'backbone.layers.0.0': {'choice': 'shuffle_3x3'}}), r'expected \{chosen: <op name>\}'),
])
def test_bad_subnet_yaml_is_a_clear_error(tmp_path, meta_supernet, edit, message):
    data = read_subnet_yaml(Config.fromfile('spos/spos_shufflenet_subnet_8xb128_in1k.py').model['fix_subnet'])
    edit(data)
    import yaml
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message) as info:
        fix_subnet(meta_supernet, path)
    assert str(path) in str(info.value)


def test_subnet_config_with_missing_yaml_names_the_file(tmp_path):
    cfg = Config.fromfile('spos/spos_shufflenet_subnet_8xb128_in1k.py',
                          [f'model.fix_subnet={tmp_path / "nope.yaml"}'])
    with pytest.raises(ConfigError, match='nope.yaml does not exist'), torch.device('meta'):
        MODELS.build(cfg.model_cfg())


def test_searchable_backbones_keep_the_backbone_contract():
    for cfg, size in ((dict(_tiny_cfg()['backbone'], out_indices=(0, 1, 2)), 32),
                      (dict(type='SearchableMobileNetV2', widen_factor=0.25, out_indices=tuple(range(8))), 64)):
        bb = MODELS.build(cfg)
        NasMutator(bb).set_choices(NasMutator(bb).sample_choices())
        bb.eval()
        outs = bb(torch.zeros(1, 3, size, size))
        assert [o.shape[1] for o in outs] == list(bb.out_channels)
        assert [size // o.shape[-1] for o in outs] == list(bb.stage_reductions)
