"""Model index: replknet (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
RepLKNet configs build the training form (large and small kernels side by side), which the metafile
counts too; `switch_to_deploy()` and the deploy/ configs merge them (31B: 79.86 M -> 79.53 M). timm has no
RepLKNet; MMPretrain's checkpoints (the authors' weights, converted) use fovea's names.
"""

ENTRIES = [
    dict(
        name='replknet-31B_3rdparty_in1k',
        config='replknet/replknet-31B_32xb64_in1k.py',
        task='Image Classification',
        params_m=79.86,
        flops_g=15.431,
        mmpretrain_flops_g=15.637,
        input_size=224,
        top1=83.48,
        dataset='ImageNet-1k',
        paper='Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/replknet/replknet-31B_3rdparty_in1k_20221118-fd08e268.pth', 'sha256': 'fd08e268', 'source': 'mmpretrain'},
    ),
    dict(
        name='replknet-31B_3rdparty_in1k-384px',
        config='replknet/replknet-31B_32xb64_in1k-384px.py',
        task='Image Classification',
        params_m=79.86,
        flops_g=45.347,
        mmpretrain_flops_g=45.952,
        input_size=384,
        top1=84.84,
        dataset='ImageNet-1k',
        paper='Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/replknet/replknet-31B_3rdparty_in1k-384px_20221118-03a170ce.pth', 'sha256': '03a170ce', 'source': 'mmpretrain'},
    ),
    dict(
        name='replknet-31B_in21k-pre_3rdparty_in1k',
        config='replknet/replknet-31B_32xb64_in1k.py',
        task='Image Classification',
        params_m=79.86,
        flops_g=15.431,
        mmpretrain_flops_g=15.637,
        input_size=224,
        top1=85.2,
        dataset='ImageNet-1k',
        paper='Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/replknet/replknet-31B_in21k-pre_3rdparty_in1k_20221118-54ed5c46.pth', 'sha256': '54ed5c46', 'source': 'mmpretrain'},
    ),
    dict(
        name='replknet-31B_in21k-pre_3rdparty_in1k-384px',
        config='replknet/replknet-31B_32xb64_in1k-384px.py',
        task='Image Classification',
        params_m=79.86,
        flops_g=45.347,
        mmpretrain_flops_g=45.952,
        input_size=384,
        top1=85.99,
        dataset='ImageNet-1k',
        paper='Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/replknet/replknet-31B_in21k-pre_3rdparty_in1k-384px_20221118-76c92b24.pth', 'sha256': '76c92b24', 'source': 'mmpretrain'},
    ),
    dict(
        name='replknet-31L_in21k-pre_3rdparty_in1k-384px',
        config='replknet/replknet-31L_32xb64_in1k-384px.py',
        task='Image Classification',
        params_m=172.67,
        flops_g=96.332,
        mmpretrain_flops_g=97.240,
        input_size=384,
        top1=86.63,
        dataset='ImageNet-1k',
        paper='Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/replknet/replknet-31L_in21k-pre_3rdparty_in1k-384px_20221118-dc3fc07c.pth', 'sha256': 'dc3fc07c', 'source': 'mmpretrain'},
    ),
    dict(
        name='replknet-XL_meg73m-pre_3rdparty_in1k-320px',
        config='replknet/replknet-XL_32xb64_in1k-320px.py',
        task='Image Classification',
        params_m=335.44,
        flops_g=128.730,
        mmpretrain_flops_g=129.570,
        input_size=320,
        top1=87.57,
        dataset='ImageNet-1k',
        paper='Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/replknet/replknet-XL_meg73m-pre_3rdparty_in1k-320px_20221118-88259b1d.pth', 'sha256': '88259b1d', 'source': 'mmpretrain'},
    ),
]

