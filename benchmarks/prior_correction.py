"""Post-hoc prior correction: does dividing the predicted probabilities by the training class frequencies (to a power
tau) buy balanced accuracy and macro-F1, and what does it cost in mean accuracy? No training: one prediction pass.

A classifier trained on imbalanced classes leans towards the frequent ones (87 % of `loose` fits were called
`conventional` on the independent check). Logit adjustment (Menon et al. 2021, "Long-tail learning via logit
adjustment") predicts `argmax_c log p(c|x) - tau * log prior(c)`: tau = 0 is the model as it is, tau = 1 the Bayes rule
for balanced error. The priors are the class frequencies of the rows the model trained on (the dataset's `train` split
less its `valid_images.txt`). Each export is predicted once, as `Predictor` predicts it by default (the recipe's TTA),
on `--split` (default `val`: the carved split of `recipes.py --carve` or `valid_share.py`, never the reported one), the
probabilities cached beside it (`prior_probs-SPLIT.npz`); then every tau is scored with `FashionInterpretation.summary`.

Usage: python benchmarks/prior_correction.py --models RUN [RUN ...] [--split val] [--taus -0.25 0 0.25 0.5 0.75 1] [--max-drop 0.2]
Prints a JSON line per model and tau (accuracy, balanced accuracy, macro-F1: the means over groups, and per group), then
the mean gain of each tau over tau = 0 across the models. With several models, a tau per group is also chosen on the
other models and scored on the one left out (`left_out` lines), by two rules: the tau of the best accuracy, and the tau
of the best balanced accuracy among those that cost at most `--max-drop` points of the group's accuracy.
"""
import argparse, json
from types import SimpleNamespace
from pathlib import Path
import numpy as np
from fashion_fastai.inference import Predictor
from fashion_fastai.evaluation import data_of, dataset_split, targets_of, boxes_of
from fashion_fastai.export_format import VALID, read_config
from fashion_fastai.interpret import FashionInterpretation

SCORES = ('accuracy', 'balanced_accuracy', 'macro_f1')

def train_priors(model:Path, cfg:dict, data) -> dict:
    "Head → class frequencies of the rows `model` (its config `cfg`) trained on (add-one smoothed, so no class has prior 0)"
    df = dataset_split(data, 'train')
    f = model/VALID
    if f.exists(): df = df[~df.image.astype(str).isin(set(f.read_text().splitlines()))]
    out = {}
    for h,t in targets_of(df, cfg).items():
        c = np.bincount(t[t >= 0], minlength=len(cfg['classes'][h])) + 1.
        out[h] = c/c.sum()
    return out

def probs_of(model:Path, split:str) -> tuple:
    "(probabilities, targets, priors, classes) of `model` on `split`, the probabilities cached beside the export (the weights are loaded only to predict)"
    cfg = read_config(model)
    data = data_of(SimpleNamespace(cfg=cfg, path=model))     # the dataset the config records, as for a Predictor
    df = dataset_split(data, split, model)
    cache = model/f'prior_probs-{split}.npz'
    if cache.exists(): probs = dict(np.load(cache))
    else:
        probs = dict(Predictor(model).probs(df.path.tolist(), boxes_of(df, cfg), skip_errors=True))
        np.savez(cache, **probs)
    return probs, targets_of(df, cfg), train_priors(model, cfg, data), cfg['classes']

def adjusted(probs:dict, priors:dict, tau:float|dict) -> dict:
    "Probabilities proportional to p(c|x) / prior(c)^tau (`tau` one for every head, or head → tau)"
    out = {}
    for h,p in probs.items():
        t = tau[h] if isinstance(tau, dict) else tau
        q = np.log(np.clip(p, 1e-30, None)) - t*np.log(priors[h])
        q = np.exp(q - q.max(1, keepdims=True))
        out[h] = q/q.sum(1, keepdims=True)
    return out

def scored(probs, targets, classes) -> dict:
    s = FashionInterpretation(probs, targets, classes).summary().set_index('group')
    mean = 'mean' if 'mean' in s.index else s.index[0]
    return dict(**{k: round(float(s.loc[mean, k]), 4) for k in SCORES},
                groups={g: {k: round(float(s.loc[g, k]), 4) for k in SCORES} for g in s.index if g != 'mean'})

def chosen(rows:list, held:str, rule:str, max_drop:float) -> dict:
    """Head → the tau that the models other than `held` chose, each head on its own: with `rule='accuracy'` the tau of
    the highest mean accuracy over them, with `rule='balanced'` the highest mean balanced accuracy among the taus whose
    mean accuracy is at most `max_drop` (a fraction) below tau = 0's"""
    others = [r for r in rows if r['model'] != held]
    taus = sorted({r['tau'] for r in others})
    mean = lambda g,t,k: float(np.mean([r['groups'][g][k] for r in others if r['tau'] == t]))
    out = {}
    for g in others[0]['groups']:
        if rule == 'accuracy': out[g] = max(taus, key=lambda t: (mean(g, t, 'accuracy'), -abs(t)))
        else:
            ok = [t for t in taus if mean(g, t, 'accuracy') >= mean(g, 0., 'accuracy') - max_drop - 1e-9]
            out[g] = max(ok, key=lambda t: (mean(g, t, 'balanced_accuracy'), -abs(t)))
    return out

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', nargs='+', required=True, help='export folders (trained with `train`, which records the dataset)')
    p.add_argument('--split', default='val', help='the split to score on (default: val)')
    p.add_argument('--taus', type=float, nargs='+', default=[-0.25, 0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument('--max-drop', type=float, default=0.2, help="for the 'balanced' choice: the most mean accuracy, in points, a group may lose on the other models (default 0.2)")
    a = p.parse_args()
    taus = sorted(set([0.] + a.taus))
    rows, data = [], {}
    for m in map(Path, a.models):
        data[str(m)] = probs, targets, priors, classes = probs_of(m, a.split)
        for tau in taus:
            r = dict(model=str(m), tau=tau, **scored(adjusted(probs, priors, tau), targets, classes))
            rows.append(r)
            print(json.dumps(r), flush=True)
    if len(a.models) > 1:                      # a tau per head chosen on the other models, scored on the one left out
        for rule in ('accuracy', 'balanced'):
            gains = []
            for m,(probs, targets, priors, classes) in data.items():
                t = chosen(rows, m, rule, a.max_drop/100)
                r = scored(adjusted(probs, priors, t), targets, classes)
                r0 = next(x for x in rows if x['model'] == m and x['tau'] == 0)
                gains.append({k: r[k] - r0[k] for k in SCORES})
                print(json.dumps(dict(model=m, left_out=True, rule=rule, taus=t, **{k: r[k] for k in SCORES},
                                      **{f'gain_{k}': round(100*gains[-1][k], 2) for k in SCORES})), flush=True)
            print(json.dumps(dict(left_out=True, rule=rule, models=len(gains),
                                  **{f'gain_{k}': round(float(np.mean([g[k] for g in gains]))*100, 2) for k in SCORES})), flush=True)
    for tau in [t for t in taus if t != 0]:
        gain = {k: [r[k] - r0[k] for r,r0 in zip([r for r in rows if r['tau'] == tau], [r for r in rows if r['tau'] == 0])] for k in SCORES}
        print(json.dumps(dict(tau=tau, models=len(a.models), **{f'gain_{k}': round(float(np.mean(v))*100, 2) for k,v in gain.items()},
                              **{f'gains_{k}': [round(x*100, 2) for x in v] for k,v in gain.items()})))

if __name__ == '__main__': main()
