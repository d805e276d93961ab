"""Model index: SPOS subnets (Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform
Sampling", ECCV 2020), as MMRazor's model zoo lists them.

``params_m`` and ``flops_g`` (GMACs at 224 px) are counted by fovea; ``mmrazor_flops_g`` is MMRazor's
figure (its counter adds element-wise operations; 0.33 is also its search budget). MMRazor's weights
(spos_shufflenetv2_subnet_8xb128_in1k_flops_0.33M_acc_73.87_20211222-1f0a0b4d_v3.pth, keys under
``architecture.``) are not listed: fovea has not checked that file yet.
"""

ENTRIES = [
    dict(
        name='spos_shufflenet_subnet_8xb128_in1k',
        config='spos/spos_shufflenet_subnet_8xb128_in1k.py',
        task='Image Classification',
        params_m=3.35,
        flops_g=0.316,
        mmrazor_flops_g=0.33,
        input_size=224,
        top1=73.87,  # MMRazor's retraining of the subnet it searched (SPOS_SUBNET.yaml)
        dataset='ImageNet-1k',
        paper='Single Path One-Shot Neural Architecture Search with Uniform Sampling',
        weights=None,
    ),
    dict(
        name='spos_shufflenet_paper_subnet_8xb128_in1k',
        config='spos/spos_shufflenet_paper_subnet_8xb128_in1k.py',
        task='Image Classification',
        params_m=3.56,
        flops_g=0.322,
        mmrazor_flops_g=0.33,
        input_size=224,
        top1=73.6,  # MMRazor's README: the paper's subnet retrained with the official code
        dataset='ImageNet-1k',
        paper='Single Path One-Shot Neural Architecture Search with Uniform Sampling',
        weights=None,
    ),
]
