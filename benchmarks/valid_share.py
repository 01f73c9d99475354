"""How much of `train` should the `cpu` recipe hold out to validate on? Nested splits, paired by seed.

A smaller validation share trains on more photos at the same cost (the recipe's epochs come from a budget of images
seen, so 4,500 photos get 7 epochs where 4,000 get 8), and reports on fewer. Whether that buys accuracy on photos the
model never saw can only be measured on a test split carved first: for each seed S this script sets 1,000 random photos
of the attribute `train` split aside as a `val` split (a dataset folder of its own under OUT, the images linked, the
annotation files cut — the photos are never copied), then for each share P runs

    fashion-fastai train --recipe cpu --data OUT/data-seedS --valid-pct P --seed S --out OUT/pP-seedS

(`--valid-pct` carves P of the other 4,000 and leaves the `val` rows out of training), and predicts the set-aside
1,000 with the export as `Predictor` does — the recipe's multi-scale mirror TTA, and once without TTA — scored by
`FashionInterpretation.summary` (accuracy, balanced accuracy and macro-F1 per group, and their means). The runs and the
summary are `lever_sweep.py`'s (a finished run in OUT is read again, not retrained). Prints a JSON line per run (the
scores, the photos trained on, epochs, seconds) and a summary per share: mean and spread over seeds, and the paired gain
over the first share.

With `--variants NAME=OPTIONS` other settings are trained at the last share on the same splits (folders NAME-seedS)
and compared with the first share, e.g. `--shares 0.1 --variants 'e11=--epochs 11'`: the recipe against 1 + 11 epochs.

`--variants-only` skips the shares' own runs (measured before, in the record; a fresh clone of the runs folder has none).

Usage: python benchmarks/valid_share.py [--shares 0.2 0.1] [--variants NAME=OPTIONS ...] [--variants-only] [--seeds 1 2 3] [--test 1000] [--data DIR] [--out runs/valid-share]
"""
import argparse, json, os, sys
from pathlib import Path
import numpy as np
from fashion_fastai.datasets import shared_data
from lever_sweep import run as train_run, summarise, parse_variants

FILES = ('', '_attr', '_bbox', '_landmards')       # split/train{…}.txt: one line per image, aligned

def carve(data:Path, out:Path, n_test:int, seed:int) -> Path:
    "A copy of the attribute dataset at `data` (images linked) whose `train` split loses `n_test` random photos to a new `val` split"
    dst = out/f'data-seed{seed}'
    if (dst/'split'/'val.txt').exists(): return dst
    (dst/'split').mkdir(parents=True, exist_ok=True)
    if not (dst/'img').exists(): os.symlink((data/'img').resolve(), dst/'img')
    (dst/'split'/'list_attr_cloth.txt').write_text((data/'split'/'list_attr_cloth.txt').read_text())
    lines = {f: (data/'split'/f'train{f}.txt').read_text().splitlines() for f in FILES if (data/'split'/f'train{f}.txt').exists()}
    n = len(lines[''])
    if any(len(v) != n for v in lines.values()): sys.exit(f'the split files of {data} do not have a line per image each')
    test = set(np.random.default_rng(10_000 + seed).choice(n, n_test, replace=False).tolist())
    for f,ls in lines.items():
        (dst/'split'/f'train{f}.txt').write_text(''.join(l + '\n' for i,l in enumerate(ls) if i not in test))
        (dst/'split'/f'val{f}.txt').write_text(''.join(l + '\n' for i,l in enumerate(ls) if i in test))
    return dst

SCORES = ('accuracy', 'balanced_accuracy', 'macro_f1')

def scores(model:Path, data:Path, tta:bool) -> dict:
    "Accuracy, balanced accuracy and macro-F1 per group, and their means, of the export `model` on the `val` split of `data`"
    from fashion_fastai.inference import Predictor
    from fashion_fastai.interpret import FashionInterpretation
    pred = Predictor(model, tta=tta, **({} if tta else dict(tta_sizes=None)))
    s = FashionInterpretation.from_export(pred, data, 'val').summary().set_index('group')
    return dict(**{k: round(float(s.loc['mean', k]), 4) for k in SCORES},
                groups={g: {k: round(float(s.loc[g, k]), 4) for k in SCORES} for g in s.index if g != 'mean'})

def run(share:float, seed:int, data:Path, out:Path, name:str=None, opts:list=()) -> dict:
    "One training run at validation share `share` (the variant `pSHARE`, or `name` with more options `opts`), scored on the set-aside photos"
    name = name or f'p{share}'
    row = dict(share=share, **train_run(name, ['--valid-pct', str(share), '--no-interpret', *opts], seed, data, out, reuse=True))
    if 'accuracy' not in row: return row
    folder = out/f'{name}-seed{seed}'                 # lever_sweep.run's folder for the run
    cache = folder/'set_aside_scores.json'            # scoring takes minutes: kept beside the export
    done = json.loads(cache.read_text()) if cache.exists() else {}
    for k,tta in (('test_tta', True), ('test', False)):
        if k not in done:
            done[k] = scores(folder, data, tta)
            cache.write_text(json.dumps(done, indent=1))
        row[k] = done[k]
        row.update({f'{k}_{m}': row[k][m] for m in SCORES})
    return row

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--shares', type=float, nargs='+', default=[0.2, 0.1], help='validation shares; the first is the one the others are compared with')
    p.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    p.add_argument('--variants', nargs='*', default=[], help="NAME=OPTIONS: other settings, each trained at the last share and compared with the first share, e.g. 'e11=--epochs 11'")
    p.add_argument('--test', type=int, default=1000, help='photos of train set aside, per seed, to score on')
    p.add_argument('--data', help='the attribute dataset (default: ../shared/data/fashion-attributes/FashionDataset)')
    p.add_argument('--out', default='runs/valid-share')
    p.add_argument('--jsonl', help='also append each line to this file')
    p.add_argument('--variants-only', action='store_true', help="train only the variants, not the shares' runs (measured before: pair with the record)")
    a = p.parse_args()
    src = Path(a.data) if a.data else shared_data('fashion-attributes/FashionDataset')
    if src is None or not (src/'split'/'train.txt').exists(): sys.exit('the attribute dataset (split/train.txt) is not there: give --data, or set FASHION_FASTAI_DATA')
    variants = parse_variants(a.variants)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    def emit(line):
        print(json.dumps(line), flush=True)
        if a.jsonl:
            with open(a.jsonl, 'a') as f: f.write(json.dumps(line) + '\n')
    rows = []
    for s in a.seeds:                          # seed-major: a deadline leaves whole pairs
        d = carve(src, out, a.test, s)
        for sh in ([] if a.variants_only else a.shares): rows.append(r := run(sh, s, d, out)); emit(r)
        for n,o in variants: rows.append(r := run(a.shares[-1], s, d, out, n, o)); emit(r)
    keys = [f'{k}_{m}' for k in ('test_tta', 'test') for m in SCORES] + ['accuracy_tta']
    names = ([] if a.variants_only else [f'p{sh}' for sh in a.shares]) + [n for n,_ in variants]   # the shares' runs only when trained here
    for r in summarise(rows, names, keys): emit(dict(summary=True, **r))
