"""Post-hoc prior correction: does dividing the predicted probabilities by the training class frequencies (to a power
tau) buy balanced accuracy and macro-F1, and what does it cost in mean accuracy? No training: one prediction pass.

A classifier trained on imbalanced classes leans towards the frequent ones (87 % of `loose` fits were called
`conventional` on the independent check). Logit adjustment (Menon et al. 2021, "Long-tail learning via logit
adjustment") predicts `argmax_c log p(c|x) - tau * log prior(c)`: tau = 0 is the model as it is, tau = 1 the Bayes rule
for balanced error. The priors are the class frequencies of the rows the model trained on (the dataset's `train` split
less its `valid_images.txt`). Each export is predicted once, as `Predictor` predicts it by default (the recipe's TTA),
on `--split` (default `val`: the carved split of `recipes.py --carve` or `valid_share.py`, never the reported one), the
probabilities cached beside it (`prior_probs-SPLIT.npz`); then every tau is scored with `FashionInterpretation.summary`.

Usage: python benchmarks/prior_correction.py --models RUN [RUN ...] [--split val] [--taus 0 0.25 0.5 0.75 1]
Prints a JSON line per model and tau (accuracy, balanced accuracy, macro-F1: the means over groups, and per group), then
the mean gain of each tau over tau = 0 across the models.
"""
import argparse, json
from pathlib import Path
import numpy as np
from fashion_fastai.inference import Predictor
from fashion_fastai.evaluation import data_of, dataset_split, targets_of, boxes_of
from fashion_fastai.export_format import VALID
from fashion_fastai.interpret import FashionInterpretation

SCORES = ('accuracy', 'balanced_accuracy', 'macro_f1')

def train_priors(model:Path, pred:Predictor, data) -> dict:
    "Head → class frequencies of the rows `model` trained on (add-one smoothed, so no class has prior 0)"
    df = dataset_split(data, 'train')
    f = model/VALID
    if f.exists(): df = df[~df.image.astype(str).isin(set(f.read_text().splitlines()))]
    out = {}
    for h,t in targets_of(df, pred.cfg).items():
        c = np.bincount(t[t >= 0], minlength=len(pred.classes[h])) + 1.
        out[h] = c/c.sum()
    return out

def probs_of(model:Path, split:str) -> tuple:
    "(probabilities, targets, priors, classes) of `model` on `split`, the probabilities cached beside the export"
    pred = Predictor(model)
    data = data_of(pred)
    df = dataset_split(data, split, model)
    cache = model/f'prior_probs-{split}.npz'
    if cache.exists(): probs = dict(np.load(cache))
    else:
        probs = dict(pred.probs(df.path.tolist(), boxes_of(df, pred.cfg), skip_errors=True))
        np.savez(cache, **probs)
    return probs, targets_of(df, pred.cfg), train_priors(model, pred, data), pred.classes

def adjusted(probs:dict, priors:dict, tau:float) -> dict:
    "Probabilities proportional to p(c|x) / prior(c)^tau"
    out = {}
    for h,p in probs.items():
        q = np.log(np.clip(p, 1e-30, None)) - tau*np.log(priors[h])
        q = np.exp(q - q.max(1, keepdims=True))
        out[h] = q/q.sum(1, keepdims=True)
    return out

def scored(probs, targets, classes) -> dict:
    s = FashionInterpretation(probs, targets, classes).summary().set_index('group')
    mean = 'mean' if 'mean' in s.index else s.index[0]
    return dict(**{k: round(float(s.loc[mean, k]), 4) for k in SCORES},
                groups={g: {k: round(float(s.loc[g, k]), 4) for k in SCORES} for g in s.index if g != 'mean'})

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', nargs='+', required=True, help='export folders (trained with `train`, which records the dataset)')
    p.add_argument('--split', default='val', help='the split to score on (default: val)')
    p.add_argument('--taus', type=float, nargs='+', default=[0, 0.25, 0.5, 0.75, 1.0])
    a = p.parse_args()
    taus = sorted(set([0.] + a.taus))
    rows = []
    for m in map(Path, a.models):
        probs, targets, priors, classes = probs_of(m, a.split)
        for tau in taus:
            r = dict(model=str(m), tau=tau, **scored(adjusted(probs, priors, tau), targets, classes))
            rows.append(r)
            print(json.dumps(r), flush=True)
    for tau in taus[1:]:
        gain = {k: [r[k] - r0[k] for r,r0 in zip([r for r in rows if r['tau'] == tau], [r for r in rows if r['tau'] == 0])] for k in SCORES}
        print(json.dumps(dict(tau=tau, models=len(a.models), **{f'gain_{k}': round(float(np.mean(v))*100, 2) for k,v in gain.items()},
                              **{f'gains_{k}': [round(x*100, 2) for x in v] for k,v in gain.items()})))

if __name__ == '__main__': main()
