"""Accuracy of one export folder tested at several image sizes (FixRes), without and with mirror TTA, and averaged over sizes.

A random resized crop shows a model its objects larger in training than the whole-image resize of validation, so a
model trained at `size` often scores better tested somewhat larger. This script measures that on a held-out split, so
a recipe's `test_size` can be chosen on a split that is not the one it reports (e.g. the `--carve` split of
`benchmarks/recipes.py`, or the `--valid-pct` split of `benchmarks/lever_sweep.py`, which the export records). Each size
is what `fashion-fastai evaluate --model M --size S [--no-tta]` computes, through the same API; `--combine 224+256`
also scores multi-scale TTA: the mirror-TTA probabilities of those sizes averaged.

Usage: python benchmarks/test_size.py --model runs/carved/types-carved-cpu [--sizes 224 240 256 272 288 320]
       [--combine 224+256 224+256+288] [--split val]
Prints one JSON line per size and per combination, then the size with the best TTA score (ties: the smaller size).
"""
import argparse, json, time
from pathlib import Path
import numpy as np
from fashion_fastai.inference import Predictor
from fashion_fastai.evaluation import data_of, dataset_split, targets_of, boxes_of, metrics_from

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', required=True, help='export folder')
    p.add_argument('--sizes', type=int, nargs='+', default=[224, 240, 256, 272, 288, 320])
    p.add_argument('--combine', nargs='*', default=[], help="size sets whose TTA probabilities are averaged, e.g. 224+256 (each size must be in --sizes)")
    p.add_argument('--split', default='val', help="the split to test on (default: val, the model's own validation split)")
    p.add_argument('--data', help='dataset (default: the one the model was trained on)')
    a = p.parse_args()
    combos = [[int(s) for s in c.split('+')] for c in a.combine]
    if any(s not in a.sizes for c in combos for s in c): p.error('every size in --combine must be among --sizes')
    rows, kept, df = [], {}, None
    for s in a.sizes:
        row, pred = dict(size=s), Predictor(a.model, size=s)       # one model load per size, with and without TTA
        if df is None:                                            # what `evaluate` does, kept so that sizes' probabilities can be averaged
            df = dataset_split(data_of(pred, a.data), a.split, pred.path)
            targets, boxes = targets_of(df, pred.cfg), boxes_of(df, pred.cfg)
            key = 'mean_accuracy' if pred.task == 'attributes' else 'accuracy'
        for tta in (False, True):
            pred.tta = tta
            t = time.perf_counter()
            probs = pred.probs(df.path.tolist(), boxes, 32, skip_errors=True)
            m = metrics_from(probs, targets, pred.task)
            row.update({f'{key}{"_tta" if tta else ""}': round(m[key], 6), f'seconds{"_tta" if tta else ""}': round(time.perf_counter() - t, 1),
                        'n': len(df) - len(probs.errors)})
        kept[s] = probs                                           # the TTA probabilities, for --combine
        rows.append(row)
        print(json.dumps(row), flush=True)
    for c in combos:
        avg = {h: np.mean([kept[s][h] for s in c], axis=0) for h in kept[c[0]]}
        m = metrics_from(avg, targets, pred.task)
        print(json.dumps({'sizes': c, f'{key}_tta': round(m[key], 6)}), flush=True)
    best = max(rows, key=lambda r: (r[f'{key}_tta'], -r['size']))
    print(json.dumps(dict(best_size=best['size'], by=f'{key}_tta', value=best[f'{key}_tta'], at_first_size=rows[0][f'{key}_tta'])))

if __name__ == '__main__': main()
