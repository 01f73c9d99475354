"""Accuracy of one export folder tested at several image sizes (FixRes), without and with mirror TTA, and with multi-scale TTA.

A random resized crop shows a model its objects larger in training than the whole-image resize of validation, so a
model trained at `size` often scores better tested somewhat larger. This script measures that on a held-out split, so
a recipe's `test_size` or `tta_sizes` can be chosen on a split that is not the one it reports (e.g. the `--carve` split
of `benchmarks/recipes.py`, or the `--valid-pct` split of `benchmarks/lever_sweep.py`, which the export records). Each
line is what `fashion-fastai evaluate --model M --split S` computes with `--size N [--no-tta]`, or with
`--tta-sizes 224 256` for a `--combine 224+256` (multi-scale TTA: the sizes' mirror-TTA probabilities averaged).

Usage: python benchmarks/test_size.py --model runs/carved/types-carved-cpu [--sizes 224 240 256 272 288 320]
       [--combine 224+256 224+256+288] [--split val]
Prints one JSON line per size and per combination, then the size with the best TTA score (ties: the smaller size).
"""
import argparse, json, time
from fashion_fastai.inference import Predictor
from fashion_fastai.evaluation import data_of, evaluate

def _scored(pred, data, split, key) -> tuple:
    t = time.perf_counter()
    m = evaluate(pred, data, split)
    return round(m[key], 6), round(time.perf_counter() - t, 1), m['n']

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', required=True, help='export folder')
    p.add_argument('--sizes', type=int, nargs='*', default=[224, 240, 256, 272, 288, 320])
    p.add_argument('--combine', nargs='*', default=[], help="size sets for multi-scale TTA, e.g. 224+256 (Predictor's tta_sizes)")
    p.add_argument('--split', default='val', help="the split to test on (default: val, the model's own validation split)")
    p.add_argument('--data', help='dataset (default: the one the model was trained on)')
    a = p.parse_args()
    rows = []
    for s in a.sizes:
        row = dict(size=s)
        for tta in (False, True):
            pred = Predictor(a.model, size=s, tta=tta)
            data,key = data_of(pred, a.data),('mean_accuracy' if pred.task == 'attributes' else 'accuracy')
            sfx = '_tta' if tta else ''
            row[f'{key}{sfx}'],row[f'seconds{sfx}'],row['n'] = _scored(pred, data, a.split, key)
        rows.append(row)
        print(json.dumps(row), flush=True)
    for c in a.combine:
        pred = Predictor(a.model, tta=True, tta_sizes=[int(s) for s in c.split('+')])
        data,key = data_of(pred, a.data),('mean_accuracy' if pred.task == 'attributes' else 'accuracy')
        acc,sec,n = _scored(pred, data, a.split, key)
        print(json.dumps({'sizes': pred.tta_sizes, f'{key}_tta': acc, 'seconds_tta': sec, 'n': n}), flush=True)
    if rows:
        best = max(rows, key=lambda r: (r[f'{key}_tta'], -r['size']))
        print(json.dumps(dict(best_size=best['size'], by=f'{key}_tta', value=best[f'{key}_tta'], at_first_size=rows[0][f'{key}_tta'])))

if __name__ == '__main__': main()
