"""MLP-Mixer: parameter counts and MACs of MMPretrain's two configs against its metafile, token outputs,
the fixed input size."""
from __future__ import annotations

import pytest
import torch

from fovea.models.backbones.mlp_mixer import MlpMixer
from fovea.utils.errors import ConfigError
from zoo_helpers import count_config

# config, exact parameters (the metafile rounds to 59.88 M / 208.2 M), GMACs as the metafile gives them
PUBLISHED = [('mlp-mixer-base-p16_64xb64_in1k', 59_880_472, 12.61),
             ('mlp-mixer-large-p16_64xb64_in1k', 208_196_168, 44.57)]
TINY = dict(embed_dims=16, num_layers=3, tokens_mlp_dims=8, channels_mlp_dims=32)


@pytest.mark.parametrize('name,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, params, gmacs):
    model, n_params, macs = count_config(f'mlp_mixer/{name}.py')
    assert n_params == params
    assert abs(macs / 1e9 - gmacs) <= 0.03 * gmacs


def test_token_outputs_and_final_norm():
    model = MlpMixer(TINY, img_size=32, patch_size=8, out_indices=(0, -1)).eval()
    x = torch.randn(2, 3, 32, 32)
    first, last = model(x)
    assert first.shape == last.shape == (2, 16, 16)       # (B, C, tokens)
    assert model.layers[0].token_mix.layers[0][0].in_features == 16   # mixes the 4 x 4 patches
    # only the last output passes the final LayerNorm: zero mean over channels per token
    assert last.mean(1).abs().max() < 1e-5 < first.mean(1).abs().max()


def test_fixed_input_size_and_bad_arch():
    model = MlpMixer(TINY, img_size=32, patch_size=8)
    with pytest.raises(ValueError, match=r'built for \(32, 32\) inputs.*img_size=\(64, 64\)'):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ConfigError, match="MlpMixer arch 'huge' is unknown"):
        MlpMixer('huge')
    with pytest.raises(ConfigError, match='dict of exactly'):
        MlpMixer(dict(embed_dims=16))
    with pytest.raises(ConfigError, match='out_indices'):
        MlpMixer(TINY, img_size=32, patch_size=8, out_indices=3)
