"""SimMIMMaskGenerator / BEiTMaskGenerator: mask sizes, counts, block structure, packing, bad arguments."""
import numpy as np
import pytest
import torch

from fovea.data.transforms import BEiTMaskGenerator, Compose, PackInputs, SimMIMMaskGenerator
from fovea.utils.errors import ConfigError


def test_simmim_mask_shape_count_and_blocks():
    gen = SimMIMMaskGenerator(input_size=192, mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)
    mask = gen({})['mask']
    assert mask.dtype == torch.bool and mask.shape == (48, 48)
    cells = mask.view(6, 8, 6, 8)
    # every 8x8 group of model patches is all masked or all visible
    assert bool((cells.all(3).all(1) == cells.any(3).any(1)).all())
    assert int(cells[:, 0, :, 0].sum()) == int(np.ceil(36 * 0.6)) == 22


def test_beit_mask_exact_count_and_connected_blocks():
    gen = BEiTMaskGenerator(input_size=(14, 14), num_masking_patches=75, max_num_patches=None, min_num_patches=16)
    masks = [gen({})['mask'] for _ in range(20)]
    for m in masks:
        assert m.dtype == torch.bool and m.shape == (14, 14) and int(m.sum()) == 75
    assert len({m.numpy().tobytes() for m in masks}) > 1           # random
    # block-wise: masked patches mostly have masked 4-neighbours (a random scatter would not)
    m = torch.stack(masks).float()
    pad = torch.nn.functional.pad(m, (1, 1, 1, 1))
    neigh = pad[:, :-2, 1:-1] + pad[:, 2:, 1:-1] + pad[:, 1:-1, :-2] + pad[:, 1:-1, 2:]
    assert float((neigh * m).sum() / m.sum()) > 2.5   # ~1.5 for i.i.d. masking at this ratio


def test_beit_mask_int_size_and_max_block():
    gen = BEiTMaskGenerator(input_size=14, num_masking_patches=78, min_num_patches=15)
    assert (gen.height, gen.width, gen.max_num_patches) == (14, 14, 78)
    assert int(gen({})['mask'].sum()) == 78


def test_pack_inputs_carries_the_mask():
    pipe = Compose([SimMIMMaskGenerator(input_size=32, mask_patch_size=8, model_patch_size=4, mask_ratio=0.5),
                    PackInputs()])
    out = pipe({'img': torch.zeros(3, 32, 32, dtype=torch.uint8)})
    assert out['data_samples'].mask.shape == (8, 8)
    # an MMPretrain-style NumPy mask from a user transform becomes a tensor too
    out = PackInputs()({'img': torch.zeros(3, 8, 8, dtype=torch.uint8), 'mask': np.ones((2, 2), dtype=int)})
    assert isinstance(out['data_samples'].mask, torch.Tensor)


@pytest.mark.parametrize('kwargs', [dict(input_size=190), dict(mask_patch_size=30), dict(mask_ratio=1.5)])
def test_simmim_bad_arguments(kwargs):
    with pytest.raises(ConfigError, match='SimMIMMaskGenerator'):
        SimMIMMaskGenerator(**kwargs)


def test_beit_too_many_patches():
    with pytest.raises(ConfigError, match='num_masking_patches=200'):
        BEiTMaskGenerator(input_size=14, num_masking_patches=200)


def test_beit_impossible_mask_is_an_error_not_a_hang():
    # blocks never reach the last row/column (as in BEiT), so 2 of 2x2 patches can never be masked
    gen = BEiTMaskGenerator(input_size=2, num_masking_patches=2, min_num_patches=1)
    with pytest.raises(ConfigError, match='could not place 2 masked patches on a 2x2 grid'):
        gen({})
