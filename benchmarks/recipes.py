"""Run the `train` recipes on the real data and print their held-out metrics and wall time, against issue 7's targets.

- clothing types: `fashion-fastai train --recipe R --data ../shared/data/clothing-types` (trains on `train/`,
  validates on `validation/`); target: top-1 >= 0.90.
- attributes: `fashion-fastai train --recipe R --data ../shared/data/fashion-attributes/FashionDataset --holdout 1000`
  (trains on the first 4000 train images, validates on the last 1000); target: mean accuracy >= 0.80.
Each run is the installed command in a subprocess, timed from start to exit (the CPU budget is 40 minutes on 2 cores);
the model is written to `--out/<dataset>-<recipe>`. Prints one JSON line per run: the metrics without and with TTA,
seconds, and whether the targets were met. Run one at a time on an otherwise idle machine.

`--carve 0.2` trains clothing types on a split carved from `train/` alone (that fraction of each class held out, drawn
with `--carve-seed`, default 0; written to `--out/carved.csv`, or `carved-seedS.csv`), so settings can be compared without looking at `validation/`, whose figures are reported.

Usage: python benchmarks/recipes.py [--recipe cpu] [--only types|attributes] [--out runs/recipes] [--carve FRAC]
       [--carve-seed S] [-- extra train options]
"""
import argparse, json, subprocess, sys, time
import numpy as np, pandas as pd
from pathlib import Path
from fashion_fastai.datasets import shared_data, read_dataset

def carve(data:Path, frac:float, out:Path, seed:int=0) -> Path:
    "A `fname,label,split` CSV of `data`'s train split only, `frac` of each class as `val` (drawn with `seed`)"
    df = read_dataset(data)
    df = df[df.split == 'train'].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    val = np.zeros(len(df), bool)
    for _,idx in df.groupby('label', observed=True).indices.items(): val[rng.choice(idx, int(round(frac*len(idx))), replace=False)] = True
    out.mkdir(parents=True, exist_ok=True)
    f = out/('carved.csv' if seed == 0 else f'carved-seed{seed}.csv')
    pd.DataFrame(dict(fname=[str(Path(p).resolve()) for p in df.path], label=df.label.astype(str),
                      split=np.where(val, 'val', 'train'))).to_csv(f, index=False)
    return f

RUNS = {  # name: (shared-data folder, extra options, the metric that counts, the target)
    'types': ('clothing-types', [], 'accuracy', 0.90),
    'attributes': ('fashion-attributes/FashionDataset', ['--holdout', '1000'], 'mean_accuracy', 0.80),
}
BUDGET_S = 40*60

def run(name, recipe, out, extra, carved:float=None, carve_seed:int=0):
    sub, opts, metric, target = RUNS[name]
    data = shared_data(sub)
    if data is None: return dict(run=name, skipped=f'real data {sub!r} not found under ../shared/data')
    if carved:
        if name != 'types': return dict(run=name, skipped='--carve is for clothing types (attributes already hold out part of train)')
        data, name = carve(data, carved, out, carve_seed), 'types-carved' + (f'-seed{carve_seed}' if carve_seed else '')
    exe = Path(sys.executable).parent/'fashion-fastai'
    cmd = [str(exe), 'train', '--recipe', recipe, '--data', str(data), *opts, '--out', str(out/f'{name}-{recipe}'), *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode: return dict(run=name, error=r.stderr.strip().splitlines()[-1:], returncode=r.returncode)
    m = json.loads(r.stdout.strip().splitlines()[-1])
    best = m.get('valid_tta', m['valid'])[metric]
    if 'members' in m:       # an ensemble recipe (cpu-long): each member's own figures, then the ensemble's
        run_facts = dict(arch=' + '.join(v['arch'] for v in m['members'].values()), epochs=m['epochs'],
                         members={k: dict(value=v['valid'][metric], value_tta=v.get('valid_tta', {}).get(metric),
                                          train_s=v['train_seconds']) for k,v in m['members'].items()})
    else: run_facts = dict(arch=m['arch'], size=m['size'], test_size=m.get('test_size') or m['size'], lr=m['lr'],
                           epochs=f"{m['freeze_epochs']}+{m['epochs']}")
    return dict(run=name, recipe=recipe, command=' '.join(['fashion-fastai', *cmd[1:]]), **run_facts, n_train=m['n_train'], n_valid=m['n_valid'],
                metric=metric, value=m['valid'][metric], value_tta=m.get('valid_tta', {}).get(metric),
                **({'top_3_accuracy': m['valid']['top_3_accuracy']} if metric == 'accuracy' else {'per_group': {k[:-4]: v for k,v in m['valid'].items() if k.endswith('_acc')}}),
                train_s=m['train_seconds'], wall_s=round(wall, 1), wall_over_budget=round(wall/BUDGET_S, 3),
                **({} if carved else dict(target=target, met=bool(best >= target and wall <= BUDGET_S))))   # a carved split has no target

if __name__ == '__main__':
    argv = sys.argv[1:]
    extra = argv[argv.index('--')+1:] if '--' in argv else []
    p = argparse.ArgumentParser()
    p.add_argument('--recipe', default='cpu'); p.add_argument('--only', choices=list(RUNS)); p.add_argument('--out', default='runs/recipes')
    p.add_argument('--carve', type=float, help='clothing types: hold out this fraction of train/ instead of using validation/')
    p.add_argument('--carve-seed', type=int, default=0, help='with --carve: another seed draws another held-out fifth (0: the one the record quotes)')
    a = p.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    for name in [a.only] if a.only else RUNS:
        print(json.dumps(run(name, a.recipe, Path(a.out), extra, a.carve, a.carve_seed)), flush=True)
