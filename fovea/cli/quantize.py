"""fovea quantize MODEL: post-training int8 quantization for CPU, with accuracy drop and speed-up."""
from __future__ import annotations

COMMAND = 'quantize'
HELP = 'int8-quantize a classifier for CPU (dynamic or static) and report accuracy drop and speed-up'


def add_arguments(parser) -> None:
    parser.add_argument('model', help='model name, shipped config name or config file')
    parser.add_argument('--checkpoint', help='weights to load (default: the index\'s published weights if any)')
    parser.add_argument('--mode', choices=['static', 'dynamic'], default='static',
                        help='static: int8 convolutions calibrated on images (CNNs); dynamic: int8 linear layers')
    parser.add_argument('--calib-dir', help='folder of calibration images (default: the config\'s training set)')
    parser.add_argument('--calib-images', type=int, default=256, help='number of calibration images (default 256)')
    parser.add_argument('--val-images', type=int, help='evaluate on at most this many validation images')
    parser.add_argument('--backend', default='x86', help="quantized kernels: 'x86' (default), 'fbgemm', 'qnnpack'")
    parser.add_argument('--threads', type=int, default=1, help='CPU threads while timing (default 1)')
    parser.add_argument('--out', help='save the int8 model as TorchScript here')
    parser.add_argument('--report', help='write the measured numbers to this JSON file')


def run(args) -> int:
    import json

    import torch

    from fovea.apis.inference import ImageClassificationInferencer, collect_images
    from fovea.data.loader import build_dataloader
    from fovea.tools.quantize import evaluate_quantization, preprocessed_batches, quantize_model
    from fovea.utils.errors import ConfigError
    from fovea.zoo import model_index

    pretrained = args.checkpoint or (args.model in model_index() and bool(model_index()[args.model].get('weights')))
    if not pretrained:
        print('Warning: no checkpoint given and none published: measuring an untrained model.')
    inf = ImageClassificationInferencer(args.model, pretrained=pretrained or None, device='cpu')
    model, cfg = inf.model, inf.cfg
    torch.set_num_threads(args.threads)
    if args.calib_dir:
        packed = inf.preprocess(collect_images(args.calib_dir)[:args.calib_images])
        calib = [b['inputs'].float().contiguous() for b in inf.batches(packed, 32)]
    elif cfg is not None and cfg.get('train_dataloader'):
        loader_cfg = dict(cfg['train_dataloader'])
        val_pipe = (cfg.get('val_dataloader') or {}).get('dataset', {}).get('pipeline')
        if val_pipe is not None:  # calibrate on training images with the evaluation transforms
            loader_cfg['dataset'] = dict(loader_cfg['dataset'], pipeline=val_pipe)
        calib = [x for x, _ in preprocessed_batches(model, build_dataloader(loader_cfg, seed=0), args.calib_images)]
    else:
        calib = []
    if args.mode == 'static' and not calib:
        raise ConfigError('static quantization needs calibration images: pass --calib-dir DIR '
                          '(the config has no train_dataloader to take them from)')
    key = 'test_dataloader' if cfg is not None and cfg.get('test_dataloader') else 'val_dataloader'
    if cfg is None or not cfg.get(key):
        raise ConfigError(f'{args.model} has no val/test dataloader to measure the accuracy drop on')
    val = preprocessed_batches(model, build_dataloader(cfg[key], key=key), args.val_images)
    qmodel = quantize_model(model, args.mode, calib, backend=args.backend)
    report = evaluate_quantization(model, qmodel, val)
    report.update(mode=args.mode, backend=args.backend, calibration_images=sum(x.shape[0] for x in calib),
                  float_precision='fp32')
    if report['float_top1'] is not None:
        from fovea.tools.results import test_precision
        tested = test_precision(cfg, model)
        note = '' if tested == 'fp32' else (f' (the float model runs in fp32 here; `fovea test` uses {tested} '
                                            f'autocast, so its top-1 can differ slightly: pass --precision fp32 '
                                            f'there to compare)')
        print(f'top-1 on {report["num_images"]} validation images: float (fp32) {report["float_top1"]:.2f}%  '
              f'int8 {report["int8_top1"]:.2f}%  drop {report["accuracy_drop"]:.2f} points{note}')
    print(f'predictions agree on {report["prediction_agreement"]:.1f}% of images')
    print(f'CPU latency per batch of {report["batch_size"]} ({report["threads"]} thread(s)): '
          f'float {report["float_s_per_batch"] * 1e3:.2f} ms  int8 {report["int8_s_per_batch"] * 1e3:.2f} ms  '
          f'speed-up {report["speedup"]:.2f}x')
    if args.out:
        import warnings
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')
            traced = torch.jit.trace(qmodel, (val[0][0][:1],), check_trace=False)
            traced.save(args.out)
        report['path'] = args.out
        print(f'Saved the int8 model (TorchScript) to {args.out}')
    if args.report:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.report, json.dumps(report, indent=1))
        print(f'Wrote {args.report}')
    return 0
