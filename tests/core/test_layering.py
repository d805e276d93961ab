"""docs/architecture.md's layering, checked on the source: arrows point down, also for imports
made inside functions (which hide a cycle until run time)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import fovea

ROOT = Path(fovea.__file__).parent

#: package -> packages it must never import (at module level or inside a function)
FORBIDDEN = {
    'fovea.models': ('fovea.engine', 'fovea.convert', 'fovea.apis', 'fovea.tools', 'fovea.cli', 'fovea.nas'),
    'fovea.data': ('fovea.models', 'fovea.engine', 'fovea.convert', 'fovea.apis', 'fovea.tools', 'fovea.cli'),
    # the NAS model layer (mutables, spaces, mutator) sits with fovea.models; fovea.nas.search is above the engine
    'fovea.nas.models': ('fovea.engine', 'fovea.convert', 'fovea.apis', 'fovea.tools', 'fovea.cli', 'fovea.nas.search'),
    'fovea.utils': ('fovea.models', 'fovea.data', 'fovea.engine', 'fovea.convert', 'fovea.apis', 'fovea.tools',
                    'fovea.cli'),
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_lower_layers_never_import_higher_ones():
    bad = []
    for package, forbidden in FORBIDDEN.items():
        folder = ROOT.joinpath(*package.split('.')[1:])
        assert folder.is_dir(), folder
        for path in folder.rglob('*.py'):
            for mod in _imports(path):
                if any(mod == f or mod.startswith(f + '.') for f in forbidden):
                    bad.append(f'{path.relative_to(ROOT.parent)} imports {mod}')
    assert not bad, '\n'.join(bad)


def test_loading_own_weights_does_not_import_converters(tmp_path):
    for name in [m for m in sys.modules if m == 'fovea.convert' or m.startswith('fovea.convert.')]:
        del sys.modules[name]
    from fovea.models.backbones.resnet import ResNet
    from fovea.models.weights import load_weights
    import torch
    model = ResNet(depth=18)
    path = tmp_path / 'own.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    report = load_weights(ResNet(depth=18), path)
    assert report.source == 'fovea' and not report.missing
    assert 'fovea.convert' not in sys.modules
    # a foreign layout (torchvision names with fc -> head) does need them, and finds them by name
    from fovea.models.classifiers import ImageClassifier
    clf = ImageClassifier(backbone=dict(type='ResNet', depth=18), neck=dict(type='GlobalAveragePooling'),
                          head=dict(type='LinearClsHead', num_classes=1000, in_channels=512))
    tv = {k: v for k, v in model.state_dict().items()}
    tv['fc.weight'], tv['fc.bias'] = torch.zeros(1000, 512), torch.zeros(1000)
    report = load_weights(clf, tv)
    assert report.source in ('torchvision', 'timm') and 'head.fc.weight' in report.loaded
    assert 'fovea.convert' in sys.modules
