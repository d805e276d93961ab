"""fovea analyze-logs plot-curve|cal-train-time LOG...: plot training curves, measure iteration time."""
from __future__ import annotations

COMMAND = 'analyze-logs'
HELP = 'plot curves from training logs (scalars.json) or compute the time per iteration'


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest='task', metavar='TASK', required=True)
    p = sub.add_parser('plot-curve', help='plot keys (loss, lr, accuracy/top1, ...) of one or more logs')
    p.add_argument('logs', nargs='+', help='scalars.json files or run directories')
    p.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot (default: loss)')
    p.add_argument('--legend', nargs='+', help='one name per log')
    p.add_argument('--title')
    p.add_argument('--out', default='curve.png', help='output PNG (default curve.png)')
    t = sub.add_parser('cal-train-time', help='average seconds per iteration, slowest and fastest epoch')
    t.add_argument('logs', nargs='+', help='scalars.json files or run directories')
    t.add_argument('--include-outliers', action='store_true', help='keep the first logged interval')


def run(args) -> int:
    from fovea.tools.logs import cal_train_time, find_log, load_scalars, plot_curves
    logs = [load_scalars(p) for p in args.logs]
    if args.task == 'plot-curve':
        from fovea.tools.visualize import save_png
        fig = plot_curves(logs, args.keys, args.legend, args.title)
        out = save_png(fig, args.out)
        print(f'Plotted {", ".join(args.keys)} of {len(logs)} log(s): wrote {out}')
        return 0
    for path, recs in zip(args.logs, logs):
        r = cal_train_time(recs, args.include_outliers)
        print(f'-----Analyze train time of {find_log(path)}-----')
        print(f'slowest epoch {r["slowest_epoch"]}, average time is {r["slowest_s_per_iter"]:.4f} s/iter')
        print(f'fastest epoch {r["fastest_epoch"]}, average time is {r["fastest_s_per_iter"]:.4f} s/iter')
        print(f'time std over epochs is {r["std_over_epochs"]:.4f}')
        print(f'average iter time: {r["average_s_per_iter"]:.4f} s/iter')
    return 0
