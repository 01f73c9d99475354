"""Accuracy of one export folder tested at several image sizes (FixRes), without and with mirror TTA.

A random resized crop shows a model its objects larger in training than the whole-image resize of validation, so a
model trained at `size` often scores better tested somewhat larger. This script measures that on a held-out split, so
a recipe's `test_size` can be chosen on a split that is not the one it reports (e.g. the `--carve` split of
`benchmarks/recipes.py`). Each size is `fashion-fastai evaluate --model M --size S [--no-tta]`, through the same API.

Usage: python benchmarks/test_size.py --model runs/carved/types-carved-cpu [--sizes 224 240 256 272 288 320] [--split val]
Prints one JSON line per size, then the size with the best TTA score (ties: the smaller size).
"""
import argparse, json, time
from pathlib import Path
from fashion_fastai.inference import Predictor
from fashion_fastai.evaluation import evaluate, data_of

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', required=True, help='export folder')
    p.add_argument('--sizes', type=int, nargs='+', default=[224, 240, 256, 272, 288, 320])
    p.add_argument('--split', default='val', help="the split to test on (default: val, the model's own validation split)")
    p.add_argument('--data', help='dataset (default: the one the model was trained on)')
    a = p.parse_args()
    rows = []
    for s in a.sizes:
        row, pred = dict(size=s), Predictor(a.model, size=s)       # one model load per size, with and without TTA
        for tta in (False, True):
            pred.tta = tta
            t = time.perf_counter()
            m = evaluate(pred, Path(data_of(pred, a.data)), a.split)
            key = 'mean_accuracy' if m['task'] == 'attributes' else 'accuracy'
            row.update({f'{key}{"_tta" if tta else ""}': round(m[key], 6), f'seconds{"_tta" if tta else ""}': round(time.perf_counter() - t, 1), 'n': m['n']})
        rows.append(row)
        print(json.dumps(row), flush=True)
    key = next(k for k in rows[0] if k.endswith('_tta') and 'accuracy' in k)
    best = max(rows, key=lambda r: (r[key], -r['size']))
    print(json.dumps(dict(best_size=best['size'], by=key, value=best[key], at_first_size=rows[0][key])))

if __name__ == '__main__': main()
