"""Export every chosen shipped config to ONNX (checked with onnxruntime) and time static int8 quantization.

    python benchmarks/export_and_quantize.py [--configs resnet18_8xb32_in1k ...] [--size 224] [--threads 1]

For each config: the ONNX max |diff| against PyTorch (random weights, random input), and for CNNs
the CPU latency of the float model vs its static int8 version (calibrated on scikit-image sample
photos), measured in the same process. Accuracy needs trained weights: `fovea quantize` reports it.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

DEFAULT = ['resnet18_8xb32_in1k', 'mobilenet-v2_8xb32_in1k', 'shufflenet-v2-1x_16xb64_in1k', 'repvgg-A0_deploy_in1k',
           'efficientnet-b0_8xb32_in1k', 'convnext-tiny_32xb128_in1k', 'deit-tiny_4xb256_in1k',
           'swin-tiny_16xb64_in1k']


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--configs', nargs='+', default=DEFAULT)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--no-quant', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from fovea.apis.inference import ImageClassificationInferencer
    from fovea.tools.demo import example_images
    from fovea.tools.export import export_model
    from fovea.tools.quantize import _latency, quantize_model, TensorForward
    photos = example_images(tempfile.mkdtemp())
    print(f'{"config":34s} {"onnx |diff|/|out|":>17s} {"float ms":>9s} {"int8 ms":>8s} {"speed-up":>8s}')
    for name in args.configs:
        try:
            inf = ImageClassificationInferencer(name, device='cpu')
        except Exception as exc:  # noqa: BLE001 - a sweep reports failures and goes on
            print(f'{name:34s} cannot build: {type(exc).__name__}: {str(exc)[:100]}', flush=True)
            continue
        model = inf.model
        for m in model.modules():  # zero-initialised heads would make every difference trivially 0
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=0.05)
        with tempfile.TemporaryDirectory() as d:
            try:
                rep = export_model(model, f'{d}/m.onnx', 'onnx', (1, 3, args.size, args.size), dynamic_batch=True)
                diff = f'{rep["max_abs_diff"]:.1e}/{rep["max_abs_output"]:.1e}'
            except Exception as exc:  # noqa: BLE001 - a sweep reports failures and goes on
                diff = f'FAIL {type(exc).__name__}: {str(exc)[:60]}'
        row = f'{name:34s} {diff:>17s}'
        if not args.no_quant and 'deit' not in name and 'swin' not in name:
            packed = inf.preprocess(__import__('fovea.apis.inference', fromlist=['x']).collect_images(photos))
            xs = [b['inputs'] for b in inf.batches(packed, 2)]
            try:
                q = quantize_model(model, 'static', xs)
                f = TensorForward(model).eval()
                with torch.no_grad():
                    tf, tq = _latency(f, xs, 3), _latency(q, xs, 3)
                row += f' {tf * 1e3:9.1f} {tq * 1e3:8.1f} {tf / tq:7.2f}x'
            except Exception as exc:  # noqa: BLE001
                row += f'  quantization FAIL {type(exc).__name__}: {str(exc)[:60]}'
        print(row, flush=True)


if __name__ == '__main__':
    main()
