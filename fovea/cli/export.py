"""fovea export MODEL: write an ONNX or TorchScript file and check it against PyTorch."""
from __future__ import annotations

COMMAND = 'export'
HELP = 'export a model to ONNX or TorchScript and check the file against PyTorch'


def add_arguments(parser) -> None:
    parser.add_argument('model', help='model name, shipped config name or config file')
    parser.add_argument('--checkpoint', help='weights to load (default: the index\'s published weights if any)')
    parser.add_argument('--format', choices=['onnx', 'torchscript'], default='onnx')
    parser.add_argument('--out', help='output file (default: <model>.onnx / <model>.pt in the current folder)')
    parser.add_argument('--shape', type=int, nargs='+', metavar='N',
                        help='input size: H or H W (default: what the config\'s test pipeline produces)')
    parser.add_argument('--batch-size', type=int, default=1, help='example batch size (default 1)')
    parser.add_argument('--dynamic-batch', action='store_true', help='let the batch size vary at run time')
    parser.add_argument('--opset', type=int, help='ONNX opset version (default: the exporter\'s)')
    parser.add_argument('--with-preprocess', action='store_true',
                        help='include normalisation: the exported model takes uint8 RGB (B,C,H,W) images')
    parser.add_argument('--atol', type=float, default=1e-4, help='absolute tolerance of the check (default 1e-4)')
    parser.add_argument('--rtol', type=float, default=1e-3, help='relative tolerance of the check (default 1e-3)')
    parser.add_argument('--report', help='also write the check\'s numbers to this JSON file')


def run(args) -> int:
    import json
    from pathlib import Path

    from fovea.apis.inference import build_inference_model
    from fovea.tools.export import ExportMismatchError, export_model, input_size_from_cfg, model_in_channels
    from fovea.zoo import model_index

    pretrained = args.checkpoint or (args.model in model_index() and bool(model_index()[args.model].get('weights')))
    model = build_inference_model(args.model, pretrained or None, 'cpu')
    if args.shape:
        h, w = (args.shape[0], args.shape[0]) if len(args.shape) == 1 else args.shape[:2]
    else:
        h, w = input_size_from_cfg(getattr(model, 'cfg', None))
    stem = Path(str(args.model)).stem
    out = args.out or f'{stem}.{"onnx" if args.format == "onnx" else "pt"}'
    try:
        report = export_model(model, out, args.format, (args.batch_size, model_in_channels(model), h, w),
                              dynamic_batch=args.dynamic_batch, opset=args.opset,
                              with_preprocess=args.with_preprocess, atol=args.atol, rtol=args.rtol)
    except ExportMismatchError as exc:
        print(f'fovea export: FAILED: {exc}')
        return 1
    print(f'Exported {args.model} to {report["path"]} ({report["format"]}, {report["size_bytes"] / 1e6:.2f} MB, '
          f'input {report["input_dtype"]} {report["input_shape"]}'
          f'{", dynamic batch" if report["dynamic_batch"] else ""}'
          f'{", opset " + str(report["opset"]) if report["opset"] else ""})')
    print(f'Check against PyTorch on batch sizes {report["checked_batches"]}: max |diff| = '
          f'{report["max_abs_diff"]:.3g} (tolerance atol={args.atol}, rtol={args.rtol}): OK')
    if args.report:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.report, json.dumps(report, indent=1))
    return 0
