"""Converters for the inverted-residual (MBConv) networks: MobileNetV2, MobileNetV3, EfficientNet and V2.

Sources: torchvision (``mobilenet_v2``, ``mobilenet_v3_small/large``, ``efficientnet_b0..b7``),
timm (``mobilenetv3_small_100``/``mobilenetv3_large_100``, ``efficientnet_b0..``, ``tf_efficientnet_*`` and
``tf_efficientnetv2_*``)
and MMPretrain 1.x MobileNetV2 checkpoints (whose blocks number their convolutions ``conv.0/1/2``;
MMPretrain's MobileNetV3 and EfficientNet checkpoints already use fovea's names).

Each network is described as stem, blocks and final convolution; a block is a list of units, a unit
being a conv + BN pair or a squeeze-excitation (reduce, expand) pair. Source and fovea blocks are
paired in order, then unit by unit, so the mapping never depends on how a file orders its keys.
"""
from __future__ import annotations

from torch import nn

from fovea.convert._targets import check_shapes, copy_module, head_linears, locate, module_groups
from fovea.models.weights import register_converter
from fovea.models.backbones.efficientnet import EdgeResidual, EfficientNet
from fovea.models.backbones.efficientnet_v2 import EfficientNetV2, EnhancedConvModule
from fovea.models.backbones.mobilenet_v2 import MobileNetV2
from fovea.models.backbones.mobilenet_v3 import MobileNetV3
from fovea.models.layers.conv import ConvModule
from fovea.models.layers.inverted_residual import InvertedResidual

__all__ = ['convert_torchvision_mbconv', 'convert_timm_mbconv', 'convert_mmpretrain_mobilenet_v2']

Unit = tuple[str, str, str]  # ('conv', conv path, bn path) or ('se', reduce path, expand path)
_BACKBONES = (MobileNetV2, MobileNetV3, EfficientNet, EfficientNetV2)


def _fovea_layout(backbone: nn.Module, prefix: str) -> tuple[Unit, list[list[Unit]], Unit] | None:
    """fovea's stem, blocks (as units) and final convolution, in execution order."""
    modules = list(backbone.named_modules())
    if any(isinstance(m, EdgeResidual) for _, m in modules) and not isinstance(backbone, EfficientNetV2):
        return None  # EfficientNet-EdgeTPU: not paired with a source network here
    block_types = (InvertedResidual, EdgeResidual, EnhancedConvModule)
    block_names = [n + '.' for n, m in modules if isinstance(m, block_types)]
    blocks, convs = [], []
    for name, m in modules:
        p = f'{prefix}{name}'
        se = [('se', f'{p}.se.conv1.conv', f'{p}.se.conv2.conv')] if getattr(m, 'with_se', False) else []
        if isinstance(m, InvertedResidual):
            units = [('conv', f'{p}.expand_conv.conv', f'{p}.expand_conv.bn')] if m.with_expand_conv else []
            units.append(('conv', f'{p}.depthwise_conv.conv', f'{p}.depthwise_conv.bn'))
            blocks.append(units + se + [('conv', f'{p}.linear_conv.conv', f'{p}.linear_conv.bn')])
        elif isinstance(m, EdgeResidual):
            blocks.append([('conv', f'{p}.conv1.conv', f'{p}.conv1.bn'), *se,
                           ('conv', f'{p}.conv2.conv', f'{p}.conv2.bn')])
        elif isinstance(m, EnhancedConvModule):
            blocks.append([('conv', f'{p}.conv', f'{p}.bn')])
        elif isinstance(m, ConvModule) and not any(name.startswith(b) for b in block_names):
            convs.append(('conv', f'{p}.conv', f'{p}.bn'))
    if len(convs) != 2:
        return None
    return convs[0], blocks, convs[1]


def _apply(sd: dict, model: nn.Module, stem: Unit, blocks: list[list[Unit]], last: Unit,
           linears: list[str], backbone_cls: type | tuple = _BACKBONES) -> dict | None:
    found = locate(model, backbone_cls)
    if found is None:
        return None
    backbone, prefix, head_prefix = found
    layout = _fovea_layout(backbone, prefix)
    if layout is None:
        return None
    dst_stem, dst_blocks, dst_last = layout
    if len(dst_blocks) != len(blocks):
        return None
    out: dict = {}
    pairs = [(stem, dst_stem), (last, dst_last)]
    for src_units, dst_units in zip(blocks, dst_blocks):
        if [u[0] for u in src_units] != [u[0] for u in dst_units]:
            return None
        pairs += list(zip(src_units, dst_units))
    for (kind, a, b), (_, da, db) in pairs:
        copy_module(sd, out, a, da)
        copy_module(sd, out, b, db)
    dst_linears = head_linears(model, head_prefix)
    if dst_linears and len(dst_linears) == len(linears):
        for src, dst in zip(linears, dst_linears):
            copy_module(sd, out, src, dst.rstrip('.'))
    return check_shapes(out, model)


def _torchvision_block_units(sd: dict, block: str) -> list[Unit]:
    """Units of a torchvision MBConv block (``block.K`` children, MobileNetV3/EfficientNet) or of a
    MobileNetV2 block (``conv.N`` children)."""
    units = []
    if f'{block}.block.0.0.weight' in sd:
        for k in module_groups(sd, rf'{block}\.block\.\d+'):
            if f'{k}.fc1.weight' in sd:
                units.append(('se', f'{k}.fc1', f'{k}.fc2'))
            else:
                units.append(('conv', f'{k}.0', f'{k}.1'))
        return units
    # MobileNetV2: conv.0 (and conv.1) are conv-BN-ReLU6 sequentials, then a bare conv and BN
    seqs = [k for k in module_groups(sd, rf'{block}\.conv\.\d+') if f'{k}.0.weight' in sd]
    units = [('conv', f'{k}.0', f'{k}.1') for k in seqs]
    n = len(seqs)
    units.append(('conv', f'{block}.conv.{n}', f'{block}.conv.{n + 1}'))
    return units


@register_converter('torchvision')
def convert_torchvision_mbconv(sd: dict, model: nn.Module) -> dict | None:
    """torchvision MobileNetV2/V3 and EfficientNet-B* -> fovea."""
    if 'features.0.0.weight' not in sd or not any(k.startswith('classifier.') for k in sd):
        return None
    if 'features.1.conv.0.0.weight' in sd:  # MobileNetV2
        blocks = module_groups(sd, r'features\.\d+(?=\.conv\.)')
        cls, linears = MobileNetV2, ['classifier.1']
    elif 'features.1.0.block.0.0.weight' in sd:  # EfficientNet: features.stage.block
        blocks = module_groups(sd, r'features\.\d+\.\d+(?=\.block\.)')
        cls, linears = EfficientNet, ['classifier.1']
    elif 'features.1.block.0.0.weight' in sd:  # MobileNetV3
        blocks = module_groups(sd, r'features\.\d+(?=\.block\.)')
        cls, linears = MobileNetV3, ['classifier.0', 'classifier.3']
    else:
        return None
    stages = module_groups(sd, r'features\.\d+')
    last = stages[-1]
    return _apply(sd, model, ('conv', 'features.0.0', 'features.0.1'),
                  [_torchvision_block_units(sd, b) for b in blocks], ('conv', f'{last}.0', f'{last}.1'),
                  linears, cls)


def _timm_block_units(sd: dict, block: str) -> list[Unit] | None:
    se = [('se', f'{block}.se.conv_reduce', f'{block}.se.conv_expand')] \
        if f'{block}.se.conv_reduce.weight' in sd else []
    if f'{block}.conv_exp.weight' in sd:  # FusedMBConv / EdgeResidual
        return [('conv', f'{block}.conv_exp', f'{block}.bn1'), *se, ('conv', f'{block}.conv_pwl', f'{block}.bn2')]
    if f'{block}.conv_pwl.weight' in sd:  # InvertedResidual
        return [('conv', f'{block}.conv_pw', f'{block}.bn1'), ('conv', f'{block}.conv_dw', f'{block}.bn2'),
                *se, ('conv', f'{block}.conv_pwl', f'{block}.bn3')]
    if f'{block}.conv_dw.weight' in sd:  # DepthwiseSeparableConv
        return [('conv', f'{block}.conv_dw', f'{block}.bn1'), *se, ('conv', f'{block}.conv_pw', f'{block}.bn2')]
    if f'{block}.conv.weight' in sd:  # ConvBnAct
        return [('conv', f'{block}.conv', f'{block}.bn1')]
    return None


@register_converter('timm')
def convert_timm_mbconv(sd: dict, model: nn.Module) -> dict | None:
    """timm ``mobilenetv3_*``, ``efficientnet_*``/``tf_efficientnet_*`` (MBConv, not EdgeTPU) and
    ``efficientnetv2_*``/``tf_efficientnetv2_*`` (ConvBnAct, FusedMBConv, MBConv blocks) -> fovea."""
    if 'conv_stem.weight' not in sd or not any(f'blocks.0.0.{c}.weight' in sd for c in ('conv_dw', 'conv')):
        return None
    blocks = module_groups(sd, r'blocks\.\d+\.\d+')
    units = [_timm_block_units(sd, b) for b in blocks]
    stem = ('conv', 'conv_stem', 'bn1')
    if 'bn2.weight' not in sd and f'{blocks[-1]}.conv.weight' in sd:  # MobileNetV3: last block is conv-BN-act
        last = ('conv', f'{blocks[-1]}.conv', f'{blocks[-1]}.bn1')
        return _apply(sd, model, stem, units[:-1], last, ['conv_head', 'classifier'], MobileNetV3)
    if any(u is None for u in units) or 'bn2.weight' not in sd:
        return None
    return _apply(sd, model, stem, units, ('conv', 'conv_head', 'bn2'), ['classifier'], (EfficientNet, EfficientNetV2))


@register_converter('mmpretrain')
def convert_mmpretrain_mobilenet_v2(sd: dict, model: nn.Module) -> dict | None:
    """MMPretrain MobileNetV2 (blocks as ``conv.0/1/2`` ConvModules) -> fovea's InvertedResidual names."""
    prefix = 'backbone.' if any(k.startswith('backbone.layer1.0.conv.') for k in sd) else ''
    if f'{prefix}layer1.0.conv.0.conv.weight' not in sd or locate(model, MobileNetV2) is None:
        return None
    blocks = module_groups(sd, rf'{prefix}layer\d+\.\d+(?=\.conv\.)')
    units = []
    for b in blocks:
        convs = module_groups(sd, rf'{b}\.conv\.\d+')
        units.append([('conv', f'{c}.conv', f'{c}.bn') for c in convs])
    return _apply(sd, model, ('conv', f'{prefix}conv1.conv', f'{prefix}conv1.bn'), units,
                  ('conv', f'{prefix}conv2.conv', f'{prefix}conv2.bn'),
                  ['head.fc'] if 'head.fc.weight' in sd else [], MobileNetV2)
