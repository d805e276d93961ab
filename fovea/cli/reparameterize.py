"""fovea reparameterize CKPT OUT: fold a RepVGG-style model's training branches into single convolutions."""
from __future__ import annotations

COMMAND = 'reparameterize'
HELP = 're-parameterise a checkpoint of a RepVGG-style model into its deploy form (checked, then saved)'


def add_arguments(parser) -> None:
    parser.add_argument('checkpoint', help='checkpoint to convert (fovea checkpoints carry their config)')
    parser.add_argument('out', help='where to save the deploy checkpoint')
    parser.add_argument('--config', help='config of the checkpoint (needed when it stores none, e.g. MMPretrain\'s)')
    parser.add_argument('--shape', type=int, nargs='+', metavar='N', help='check input size: H or H W')
    parser.add_argument('--atol', type=float, default=1e-4, help='tolerance of the output check (default 1e-4)')


def run(args) -> int:
    from fovea.tools.reparam import reparameterize_checkpoint
    shape = None
    if args.shape:
        shape = (args.shape[0], args.shape[0]) if len(args.shape) == 1 else tuple(args.shape[:2])
    r = reparameterize_checkpoint(args.checkpoint, args.out, args.config, shape, atol=args.atol)
    print(f'Switched {", ".join(n or "model" for n in r["switched"])} to deploy form: parameters '
          f'{r["params_before"] / 1e6:.2f} M -> {r["params_after"] / 1e6:.2f} M; outputs on a random '
          f'{tuple(r["input_shape"])} batch agree within {r["max_abs_diff"]:.2g} '
          f'(outputs up to {r["max_abs_output"]:.3g})')
    print(f'Saved {r["path"]} (its stored config has deploy=True)')
    return 0
