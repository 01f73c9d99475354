"""How much of `train` should the `cpu` recipe hold out to validate on? Nested splits, paired by seed.

A smaller validation share trains on more photos at the same cost (the recipe's epochs come from a budget of images
seen, so 4,500 photos get 7 epochs where 4,000 get 8), and reports on fewer. Whether that buys accuracy on photos the
model never saw can only be measured on a test split carved first: for each seed S this script sets 1,000 random photos
of the attribute `train` split aside as a `val` split (a dataset folder of its own under OUT, the images linked, the
annotation files cut — the photos are never copied), then for each share P runs

    fashion-fastai train --recipe cpu --data OUT/data-seedS --valid-pct P --seed S --out OUT/pP-seedS

(`--valid-pct` carves P of the other 4,000 and leaves the `val` rows out of training), and predicts the set-aside
1,000 with the export as `Predictor` does — the recipe's multi-scale mirror TTA, and once without TTA. Prints a JSON
line per run (mean and per-group accuracy, balanced accuracy and macro-F1 per group and their means, the photos
trained on, epochs, seconds) and a summary per share with its mean paired gain over the first share.

Usage: python benchmarks/valid_share.py [--shares 0.2 0.1] [--seeds 2 3] [--test 1000] [--data DIR] [--out runs/valid-share]
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path
import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score
from fashion_fastai.datasets import shared_data

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

def scores(model:Path, data:Path, tta:bool) -> dict:
    "Accuracy, balanced accuracy and macro-F1 per group of the export `model` on the `val` split of `data`"
    from fashion_fastai.inference import Predictor
    from fashion_fastai.evaluation import dataset_split, targets_of, boxes_of
    pred = Predictor(model, tta=tta, **({} if tta else dict(tta_sizes=None)))
    df = dataset_split(data, 'val')
    targets = targets_of(df, pred.cfg)
    probs = pred.probs(df.path.tolist(), boxes_of(df, pred.cfg))
    res = {}
    for g,p in probs.items():
        t,y = targets[g],p.argmax(1)
        res[g] = dict(accuracy=float((y == t).mean()), balanced_accuracy=float(balanced_accuracy_score(t, y)),
                      macro_f1=float(f1_score(t, y, average='macro', labels=np.unique(t))))
    return dict(**{k: round(float(np.mean([r[k] for r in res.values()])), 4) for k in ('accuracy', 'balanced_accuracy', 'macro_f1')},
                groups={g: {k: round(v, 4) for k,v in r.items()} for g,r in res.items()})

def run(share:float, seed:int, data:Path, out:Path) -> dict:
    "One training run at validation share `share`, scored on the set-aside photos"
    folder = out/f'p{share}-seed{seed}'
    row = dict(share=share, seed=seed)
    if not (folder/'metrics.json').exists():
        cmd = [sys.executable, '-m', 'fashion_fastai', 'train', '--recipe', 'cpu', '--data', str(data), '--valid-pct', str(share),
               '--seed', str(seed), '--no-interpret', '--out', str(folder)]
        t = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        row['wall_s'] = round(time.time() - t, 1)
        if r.returncode != 0: return dict(row, error=(r.stderr.strip().splitlines() or ['no message'])[-1])
    m = json.loads((folder/'metrics.json').read_text())
    row.update(n_train=m['n_train'], n_valid=m['n_valid'], epochs=m['epochs'], train_seconds=m['train_seconds'], seconds=m['seconds'],
               valid_tta=round(m.get('valid_tta', m['valid'])['mean_accuracy'], 4))
    row['test_tta'],row['test'] = scores(folder, data, True),scores(folder, data, False)
    return row

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--shares', type=float, nargs='+', default=[0.2, 0.1], help='validation shares; the first is the one the others are compared with')
    p.add_argument('--seeds', type=int, nargs='+', default=[2, 3])
    p.add_argument('--test', type=int, default=1000, help='photos of train set aside, per seed, to score on')
    p.add_argument('--data', help='the attribute dataset (default: ../shared/data/fashion-attributes/FashionDataset)')
    p.add_argument('--out', default='runs/valid-share')
    p.add_argument('--jsonl', help='also append each line to this file')
    a = p.parse_args()
    src = Path(a.data) if a.data else shared_data('fashion-attributes/FashionDataset')
    if src is None or not (src/'split'/'train.txt').exists(): sys.exit('the attribute dataset (split/train.txt) is not there: give --data, or set FASHION_FASTAI_DATA')
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    def emit(line):
        print(json.dumps(line), flush=True)
        if a.jsonl:
            with open(a.jsonl, 'a') as f: f.write(json.dumps(line) + '\n')
    rows = []
    for s in a.seeds:                          # seed-major: a deadline leaves whole pairs
        d = carve(src, out, a.test, s)
        for sh in a.shares: rows.append(r := run(sh, s, d, out)); emit(r)
    done = {(r['share'], r['seed']): r for r in rows if 'test' in r}
    for sh in a.shares:
        mine = [r for (v,_),r in done.items() if v == sh]
        s = dict(summary=True, share=sh, seeds=sorted(r['seed'] for r in mine))
        for k in ('test_tta', 'test'):
            for m in ('accuracy', 'balanced_accuracy', 'macro_f1'):
                v = [r[k][m] for r in mine]
                if v: s[f'{k}_{m}'] = round(float(np.mean(v)), 4)
                g = [r[k][m] - done[(a.shares[0], r['seed'])][k][m] for r in mine if (a.shares[0], r['seed']) in done]
                if g and sh != a.shares[0]: s[f'gain_{k}_{m}'] = [round(x, 4) for x in g]
        emit(s)
