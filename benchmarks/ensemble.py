"""Several export folders' probabilities averaged, on the images the first was validated on: what a two-model ensemble buys.

Each model predicts as its export says (its own TTA and TTA sizes, bbox crop and normalisation) through `Predictor`;
the ensemble averages the heads' probabilities. The models must have been validated on the same images (the
`valid_images.txt` of each export folder: e.g. `benchmarks/lever_sweep.py` runs of one seed), so the figure is on a split
none of them trained on. Prints one JSON line per model and one for the average: mean and per-group accuracy (or top-1
for categories), balanced accuracy and macro-F1 (means over the groups, `evaluation.by_class`),
and the seconds each model's prediction took — what the ensemble costs at prediction time.

With `--out DIR` it instead writes the models as one ensemble export folder (`ensemble_exports`, what the `cpu-long`
recipe exports) and evaluates that folder as it predicts (one model averaging the members' probabilities before the
folder's mirror and multi-scale TTA): the figure `train --recipe cpu-long` reports, without training again. Each
member's own figure is then read from its `metrics.json`.

Usage: python benchmarks/ensemble.py --models runs/levers/lr8-seed2 runs/levers/lite1e6-seed2 [--data DIR] [--out DIR]
"""
import argparse, json, time
from pathlib import Path
import numpy as np
from fashion_fastai.inference import Predictor
from fashion_fastai.evaluation import data_of, dataset_split, targets_of, boxes_of, metrics_from, by_class

def _rare(probs, targets, task) -> dict:
    "Balanced accuracy and macro-F1, averaged over the groups: what the rare classes get"
    m = by_class(probs, targets, task)
    return dict(balanced_accuracy=m['balanced_accuracy'], macro_f1=m['macro_f1'])

def _line(name, m, **kw) -> str:
    per = {k: round(v, 4) for k,v in m.pop('per_group', {}).items()}
    return json.dumps(dict(model=name, **{k: round(v, 4) for k,v in m.items()}, **({'per_group': per} if per else {}), **kw))

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', nargs='+', required=True, help='export folders validated on the same images')
    p.add_argument('--data', help='dataset (default: the one the first model was trained on)')
    p.add_argument('--out', help='write the ensemble export folder here and evaluate it, instead of averaging the predictions')
    a = p.parse_args()
    if a.out: return _folder(a)
    lists = [(Path(m)/'valid_images.txt').read_text() for m in a.models]
    if any(l != lists[0] for l in lists[1:]): raise SystemExit("The models were validated on different images: give runs of one split (one seed)")
    preds = [Predictor(m) for m in a.models]
    data = data_of(preds[0], a.data)
    df = dataset_split(data, 'holdout', a.models[0])
    targets, task, probs = targets_of(df, preds[0].cfg), preds[0].task, []
    for m,pr in zip(a.models, preds):
        if pr.classes != preds[0].classes: raise SystemExit(f"{m} predicts other classes than {a.models[0]}: not one task")
        t = time.perf_counter()
        probs.append(pr.probs(df.path.tolist(), boxes_of(df, pr.cfg), skip_errors=True))
        print(_line(m, metrics_from(probs[-1], targets, task) | _rare(probs[-1], targets, task), tta_sizes=pr.tta_sizes, seconds=round(time.perf_counter() - t, 1)), flush=True)
    mean = {h: np.mean([pb[h] for pb in probs], axis=0) for h in probs[0]}
    print(_line('+'.join(a.models), metrics_from(mean, targets, task) | _rare(mean, targets, task), n=len(df)))

def _folder(a):
    "Evaluate the models as one ensemble export folder, written to `a.out`"
    from fashion_fastai.export import ensemble_exports
    for m in a.models:
        v = json.loads((Path(m)/'metrics.json').read_text()) if (Path(m)/'metrics.json').exists() else {}
        print(json.dumps(dict(model=m, mean_accuracy_tta=v.get('valid_tta', {}).get('mean_accuracy'), source='metrics.json')), flush=True)
    pr = Predictor(ensemble_exports(a.models, a.out))
    df = dataset_split(data_of(pr, a.data), 'holdout', a.out)
    targets,t = targets_of(df, pr.cfg),time.perf_counter()
    probs = pr.probs(df.path.tolist(), boxes_of(df, pr.cfg), skip_errors=True)
    print(_line(a.out, metrics_from(probs, targets, pr.task) | _rare(probs, targets, pr.task), tta_sizes=pr.tta_sizes,
                seconds=round(time.perf_counter() - t, 1), n=len(df)))

if __name__ == '__main__': main()
