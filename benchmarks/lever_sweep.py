"""Training levers against the `cpu` recipe as it is, paired by seed, on splits carved from the attribute train split.

Each run is `fashion-fastai train --recipe cpu --data DATA --valid-pct 0.2 --seed S [the variant's options] --out
OUT/NAME-seedS`: seed S picks the validation fifth of `train` (its own per seed, never the last-1,000 holdout the
README reports) and the training seeds, so the variants of one seed see the same split and the same starting point —
the comparison is paired. A variant is NAME=OPTIONS, e.g. `base=` (the recipe), `ls=--label-smoothing 0.1`,
`gw=--group-weights 0.95 0.85 0.85 0.9 1 0.9`, or another recipe, `long=--recipe cpu-long` (its `--recipe` comes last, so it
wins; an ensemble recipe's `epochs` are printed per member). Runs start in seed-major order (every variant's first seed, then the
second…), `--parallel` at a time, so a deadline leaves whole pairs; a run still going at `--stop-after` seconds is
stopped and reported as such. Each run also writes its interpretation (balanced accuracy and macro-F1 per group).
Levers are compared at the epochs the recipe plans: each run gets `--minutes 0` (no wall-clock budget, whose cuts
would follow the machine's speed from run to run) unless its options give `--minutes`.

Prints a JSON line per run (mean and per-group accuracy with and without mirror TTA, balanced accuracy and macro-F1,
seconds), then one summary line per variant: mean and spread over seeds, and the mean paired gain over the first
variant. On 2 CPU cores a run takes about 35-40 minutes (`--parallel 1`); on a GPU machine several run at once.

Usage: python benchmarks/lever_sweep.py --variants base= 'ls=--label-smoothing 0.1' [--seeds 1 2 3] [--parallel 3]
       [--workers 5] [--stop-after SECONDS] [--data DIR] [--out runs/levers]
"""
import argparse, json, os, shlex, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np, pandas as pd
from fashion_fastai.datasets import shared_data

def run(name:str, opts:list, seed:int, data:Path, out:Path, workers:int|None=None, stop_at:float=float('inf'), reuse:bool=False) -> dict:
    "One training run of variant `name` (with `reuse`, a finished run in its folder is read, not trained again); its metrics, or why there are none"
    folder = out/f'{name}-seed{seed}'
    row = dict(variant=name, options=shlex.join(opts), seed=seed)
    if reuse and (folder/'metrics.json').exists(): return dict(row, **metrics_row(folder))
    if time.time() >= stop_at: return dict(row, skipped='not started before --stop-after')
    cmd = [sys.executable, '-m', 'fashion_fastai', 'train', '--recipe', 'cpu', '--data', str(data), '--valid-pct', '0.2',
           '--seed', str(seed), *(['--workers', str(workers)] if workers is not None else []),
           *([] if any(o.split('=')[0] == '--minutes' for o in opts) else ['--minutes', '0']), *opts, '--out', str(folder)]
    t = time.time()
    try: r = subprocess.run(cmd, capture_output=True, text=True, timeout=None if stop_at == float('inf') else max(1, stop_at - t))
    except subprocess.TimeoutExpired: return dict(row, stopped=f'still training at --stop-after, after {time.time() - t:.0f} s')
    row['wall_s'] = round(time.time() - t, 1)
    if r.returncode != 0: return dict(row, error=(r.stderr.strip().splitlines() or ['no message'])[-1])
    return dict(row, **metrics_row(folder))

def metrics_row(folder:Path) -> dict:
    "What a finished run in `folder` measured: its `metrics.json`, and its interpretation's means where it wrote one"
    m = json.loads((folder/'metrics.json').read_text())
    groups = [k[:-4] for k in m['valid'] if k.endswith('_acc')]
    tta = m.get('valid_tta', m['valid'])
    row = dict(n_train=m['n_train'], n_valid=m['n_valid'], epochs=m['epochs'], train_seconds=m['train_seconds'],
               accuracy=round(m['valid']['mean_accuracy'], 4), accuracy_tta=round(tta['mean_accuracy'], 4),
               groups_tta={g: round(tta[f'{g}_acc'], 4) for g in groups})
    summary = folder/'interpretation'/'summary.csv'
    if summary.exists():
        s = pd.read_csv(summary).set_index('group')
        row.update(balanced_accuracy=round(float(s.loc['mean', 'balanced_accuracy']), 4), macro_f1=round(float(s.loc['mean', 'macro_f1']), 4),
                   balanced_by_group={g: round(float(s.loc[g, 'balanced_accuracy']), 4) for g in groups if g in s.index})
    return row

def parse_variants(values:list) -> list:
    "(name, options) of each NAME=OPTIONS, e.g. `ls=--label-smoothing 0.1`; exits saying so on one without a name or `=`"
    if any('=' not in v or not v.split('=', 1)[0] for v in values): sys.exit('each variant is NAME=OPTIONS, e.g. base= or "ls=--label-smoothing 0.1"')
    return [(v.split('=', 1)[0], shlex.split(v.split('=', 1)[1])) for v in values]

KEYS = ('accuracy', 'accuracy_tta', 'balanced_accuracy', 'macro_f1')

def summarise(rows:list, names:list, keys=KEYS) -> list:
    "Per variant: mean and sd of `keys` over its finished seeds, and the mean paired gain over the first variant (seeds both finished)"
    done = {(r['variant'], r['seed']): r for r in rows if 'accuracy' in r}
    out = []
    for n in names:
        mine = [r for (v,_),r in done.items() if v == n]
        if not mine: out.append(dict(variant=n, runs=0)); continue
        s = dict(variant=n, runs=len(mine), seeds=sorted(r['seed'] for r in mine))
        for k in keys:
            v = [r[k] for r in mine if k in r]
            if v: s[k] = dict(mean=round(float(np.mean(v)), 4), sd=round(float(np.std(v, ddof=1)), 4) if len(v) > 1 else None)
        if n != names[0]:
            pairs = [(r, done[(names[0], r['seed'])]) for r in mine if (names[0], r['seed']) in done]
            for k in keys:
                g = [a[k] - b[k] for a,b in pairs if k in a and k in b]
                if g: s[f'gain_{k}'] = dict(mean=round(float(np.mean(g)), 4), per_seed=[round(x, 4) for x in g])
        out.append(s)
    return out

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--variants', nargs='+', default=['base='], help="NAME=OPTIONS; the first is the one the others are compared with")
    p.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    p.add_argument('--parallel', type=int, default=1, help='runs at a time (1 on 2 CPU cores)')
    p.add_argument('--workers', type=int, help="DataLoader workers per run (default: fastai's)")
    p.add_argument('--stop-after', type=float, default=float('inf'), help='seconds: later runs are not started, running ones are stopped')
    p.add_argument('--data', help='the attribute dataset (default: ../shared/data/fashion-attributes/FashionDataset)')
    p.add_argument('--out', default='runs/levers')
    p.add_argument('--jsonl', help='also append each line to this file')
    a = p.parse_args()
    data = Path(a.data) if a.data else shared_data('fashion-attributes/FashionDataset')
    if data is None or not data.exists(): sys.exit('the attribute dataset is not there: give --data, or set FASHION_FASTAI_DATA')
    variants = parse_variants(a.variants)
    stop_at, lock, rows = time.time() + a.stop_after, threading.Lock(), []
    def emit(line):
        with lock:
            print(json.dumps(line), flush=True)
            if a.jsonl:
                with open(a.jsonl, 'a') as f: f.write(json.dumps(line) + '\n')
    def job(name, opts, seed):
        r = run(name, opts, seed, data, Path(a.out), a.workers, stop_at); rows.append(r); emit(r)
    with ThreadPoolExecutor(a.parallel) as ex:
        list(ex.map(lambda j: job(*j), [(n, o, s) for s in a.seeds for n,o in variants]))
    for s in summarise(rows, [n for n,_ in variants]): emit(dict(summary=True, **s))
