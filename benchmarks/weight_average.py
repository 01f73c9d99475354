"""Weight averaging (`--ema`) against the trained weights, measured on splits carved from the attribute train split.

Each run is `fashion-fastai train --recipe cpu --data ../shared/data/fashion-attributes/FashionDataset --valid-pct 0.2
--seed S --ema D1 D2 … --no-interpret`: a random fifth of `train` (its own per seed: never the last-1,000 holdout the
recipes report) is validated with the trained weights and with each average, in the same run, so the comparison is
paired: same split, same training, same images. Prints one JSON line per run (mean accuracy with and without mirror
TTA for the trained weights and each decay, the gain of each over the trained weights, wall seconds), then a summary
line over the runs (mean gain and its spread). Run on an otherwise idle machine; each run takes about 40 minutes on 2
CPU cores.

Attributes only for now. (`--valid-pct` on clothing types carves from `train/` alone since a0647c8, leaving
`validation/`, the reported split, out; before that it mixed it into the carve.)

Usage: python benchmarks/weight_average.py [--seeds 1 2 3] [--decays 0.998 0.995 0.99] [--out runs/ema]
"""
import argparse, json, subprocess, sys, time
from pathlib import Path
import numpy as np
from fashion_fastai.datasets import shared_data

DATA = {'attributes': ('fashion-attributes/FashionDataset', 'mean_accuracy')}

def run(task:str, seed:int, decays:list, out:Path) -> dict:
    sub, metric = DATA[task]
    data = shared_data(sub)
    if data is None: return dict(task=task, seed=seed, skipped=f'{sub} not found (set FASHION_FASTAI_DATA or put it at ../shared/data)')
    exe = Path(sys.executable).parent/'fashion-fastai'
    cmd = [str(exe), 'train', '--data', str(data), '--recipe', 'cpu', '--valid-pct', '0.2', '--seed', str(seed),
           '--ema', *map(str, decays), '--no-interpret', '--out', str(out/f'{task}-seed{seed}')]
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = round(time.time() - t, 1)
    if r.returncode != 0: return dict(task=task, seed=seed, error=r.stderr.strip().splitlines()[-1], wall_s=wall)
    m = json.loads(r.stdout.strip().splitlines()[-1])
    ema = m['ema']
    res = {'trained': ema['trained'], str(ema['exported']): dict(valid=m['valid'], valid_tta=m.get('valid_tta', m['valid'])),
           **{k: v for k,v in ema.items() if k not in ('trained', 'exported')}}
    acc = {k: dict(plain=round(v['valid'][metric], 4), tta=round(v.get('valid_tta', v['valid'])[metric], 4)) for k,v in res.items()}
    gain = {k: dict(plain=round(a['plain'] - acc['trained']['plain'], 4), tta=round(a['tta'] - acc['trained']['tta'], 4))
            for k,a in acc.items() if k != 'trained'}
    return dict(task=task, seed=seed, n_train=m['n_train'], n_valid=m['n_valid'], epochs=m['epochs'], metric=metric,
                accuracy=acc, gain_over_trained=gain, train_seconds=m['train_seconds'], wall_s=wall)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    p.add_argument('--decays', type=float, nargs='+', default=[0.998, 0.995, 0.99])
    p.add_argument('--out', default='runs/ema')
    a = p.parse_args()
    rows = []
    for s in a.seeds:
        rows.append(run('attributes', s, a.decays, Path(a.out)))
        print(json.dumps(rows[-1]), flush=True)
    ok = [r for r in rows if 'gain_over_trained' in r]
    if len(ok) > 1:
        summary = {d: {k: dict(mean=round(float(np.mean(g := [r['gain_over_trained'][d][k] for r in ok])), 4), sd=round(float(np.std(g, ddof=1)), 4))
                       for k in ('plain', 'tta')} for d in ok[0]['gain_over_trained']}
        print(json.dumps(dict(runs=len(ok), mean_gain_over_trained=summary)))
