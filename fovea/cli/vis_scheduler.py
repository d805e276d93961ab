"""fovea vis-scheduler CFG: plot the learning-rate (and momentum, weight decay) schedule of a config."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'vis-scheduler'
HELP = 'plot the learning rate / momentum / weight decay over the whole run to a PNG'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('--dataset-size', type=int, help='training images (default: build the dataset and count)')
    parser.add_argument('--ngpus', type=int, default=1, help='number of processes (GPUs) the batch is split over')
    parser.add_argument('--batch-size', type=int, help='per-process batch size (default: from the config)')
    parser.add_argument('--title', default='', help='figure title (default: the config name)')
    parser.add_argument('--save-path', default=None, help='PNG to write (default: <config name>_schedule.png)')
    add_cfg_options(parser)


def run(args) -> int:
    from pathlib import Path

    from fovea.cli._common import load_config
    from fovea.tools.scheduler_plot import plot_schedule, schedule_from_config

    cfg = load_config(args)
    values, epoch_length = schedule_from_config(cfg, args.dataset_size, args.ngpus, args.batch_size)
    name = Path(getattr(cfg, 'filename', None) or args.config).stem
    out = plot_schedule(values, epoch_length, args.save_path or f'{name}_schedule.png', args.title or name,
                        by_epoch=cfg['train_cfg'].get('by_epoch', True) is not False)
    lr = values['lr']
    print(f'{len(lr)} iterations ({epoch_length} per epoch): lr starts {lr[0]:.4g}, peaks {max(lr):.4g}, '
          f'ends {lr[-1]:.4g}. Saved {out}')
    return 0
