"""What mixup (`LabelMixUp`, `--mixup`) costs per training step, on the real attribute photos with the `cpu` recipe's learner.

Builds the `cpu` recipe's DataLoaders and learner for the attribute dataset (EfficientNet-Lite0, its size, batch,
channels-last and fixed groups; `pretrained=False`, which does not change the cost), then times the same number of
unfrozen training steps with and without `LabelMixUp(0.2)`, alternating, `--rounds` times each. A step is the time
between two `after_batch` events (data loading, the blend, forward, backward, optimiser), the median over the steps of a
round after `--warmup`. Also reports the memory layout of the batch the model receives (`input_channels_last`), the same
with and without the blend: a layout change would slow every convolution. Prints a JSON line per round and the ratio
of the medians, measured in this run. Run alone.

Usage: python benchmarks/mixup_cost.py [--data DIR] [--steps 25] [--warmup 3] [--rounds 2] [--n 1600]
"""
import argparse, json, statistics, time
import torch
from fastai.callback.core import Callback, CancelFitException
from fashion_fastai.datasets import read_dataset, shared_data
from fashion_fastai.data import fashion_dls
from fashion_fastai.learner import fashion_learner
from fashion_fastai.training import train_settings
from fashion_fastai.callbacks import LabelMixUp

class StepTimes(Callback):
    "Seconds between consecutive training batches; ends the fit after `steps`; notes whether the model saw channels-last input"
    order = 100
    def __init__(self, steps): self.steps = steps
    def before_fit(self): self.times,self.last,self.cl = [],None,[]
    def after_pred(self):
        if self.training: self.cl.append(self.xb[0].is_contiguous(memory_format=torch.channels_last))
    def after_batch(self):
        if not self.training: return
        now = time.perf_counter()
        if self.last is not None: self.times.append(now - self.last)
        self.last = now
        if len(self.times) >= self.steps: raise CancelFitException()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data'); p.add_argument('--steps', type=int, default=25); p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--rounds', type=int, default=2); p.add_argument('--n', type=int, default=1600, help='photos to draw batches from')
    a = p.parse_args()
    src = a.data or shared_data('fashion-attributes/FashionDataset')
    if src is None: raise SystemExit('the attribute dataset is not there: give --data, or set FASHION_FASTAI_DATA')
    df = read_dataset(src).query("split == 'train'").head(a.n).reset_index(drop=True)
    s = train_settings('cpu', a.n, 'attributes')
    dls = fashion_dls(df, bs=s['bs'], valid_pct=0.1, seed=0, size=s['size'], crop_bbox=s['crop_bbox'], draft=s['draft'])
    learn = fashion_learner(dls, arch=s['arch'], pretrained=False, channels_last=s['channels_last'], fixed_groups=s['fixed_groups'])
    learn.unfreeze()
    meds = {False: [], True: []}
    for r in range(a.rounds):
        for mix in (False, True):
            t = StepTimes(a.steps + a.warmup)
            with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-4, cbs=[t] + ([LabelMixUp(0.2)] if mix else []))
            med = statistics.median(t.times[a.warmup:])
            meds[mix].append(med)
            print(json.dumps(dict(round=r, mixup=mix, median_step_s=round(med, 4), steps=len(t.times) - a.warmup,
                                  input_channels_last=all(t.cl), bs=s['bs'], size=s['size'])), flush=True)
    base,mixed = statistics.median(meds[False]),statistics.median(meds[True])
    print(json.dumps(dict(summary=True, step_s=round(base, 4), step_s_mixup=round(mixed, 4), ratio=round(mixed/base, 3),
                          threads=torch.get_num_threads())))
