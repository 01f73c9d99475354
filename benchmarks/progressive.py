"""Progressive branch training against joint multi-head training, with 30 % of each group's labels removed.

The real FashionDataset: train on the first 5000-H train images, validate on the last H (the issue-7 holdout). In the
training images only, each attribute group independently loses `--drop` of its labels (seeded); the holdout keeps
all its labels. Both methods start from the same ImageNet weights, DataLoaders and settings:

- joint: `fine_tune(E, freeze_epochs=1)`, every head on every image (a missing label adds nothing to the loss);
- progressive: `fit_progressive(group_epochs=1, final_epochs=F)`: body + one head per group on that group's
  labelled images, the other heads fixed, then everything together.

E and F are chosen so both see about the same number of training images (printed). Prints per-group and mean
accuracy on the holdout (no TTA), the images seen and wall time of each, and progressive/joint ratios.

Usage: python benchmarks/progressive.py [--data DIR] [--holdout 1000] [--drop 0.3] [--size 128] [--epochs 4]
       [--final-epochs 1] [--only joint|progressive]
"""
import argparse, json, time
import numpy as np
from fastai.torch_core import set_seed
from fashion_fastai.datasets import GROUPS, read_dataset, shared_data
from fashion_fastai.data import fashion_dls
from fashion_fastai.learner import fashion_learner

class Seen:
    "Count the training images a fit sees"
    def __init__(self): self.n = 0

def run(method, df, args):
    set_seed(0, reproducible=True)
    dls = fashion_dls(df, bs=args.bs, holdout=args.holdout, seed=0, size=args.size, crop_bbox=True,
                      num_workers=args.workers)
    learn = fashion_learner(dls, arch=args.arch, channels_last=True)
    from fastai.callback.core import Callback
    seen = Seen()
    class _Count(Callback):
        def after_batch(self):
            if self.training: seen.n += self.xb[0].shape[0]
    learn.add_cb(_Count())
    t = time.time()
    if method == 'joint': learn.fine_tune(args.epochs, base_lr=args.lr, freeze_epochs=1)
    else: learn.fit_progressive(group_epochs=1, final_epochs=args.final_epochs, base_lr=args.lr)
    secs = time.time() - t
    vals = learn.validate()
    names = [m.name for m in learn.metrics]
    res = dict(zip(names, [float(v) for v in vals[1:]]))
    return dict(method=method, mean_accuracy=res['mean_accuracy'], per_group={g: res[f'{g}_acc'] for g in GROUPS},
                images_seen=seen.n, seconds=round(secs, 1))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--data'); p.add_argument('--holdout', type=int, default=1000); p.add_argument('--drop', type=float, default=0.3)
    p.add_argument('--arch', default='tf_efficientnet_lite0'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--epochs', type=int, default=4, help='joint: unfrozen epochs after 1 frozen one')
    p.add_argument('--final-epochs', type=int, default=1, help='progressive: epochs of the joint stage after the branches')
    p.add_argument('--lr', type=float, default=2e-3); p.add_argument('--bs', type=int, default=32)
    p.add_argument('--workers', type=int); p.add_argument('--only', choices=['joint', 'progressive'])
    args = p.parse_args()
    data = args.data or shared_data('fashion-attributes/FashionDataset')
    if data is None: raise SystemExit('No data: give --data, or put the FashionDataset under ../shared/data/fashion-attributes')
    df = read_dataset(data)
    train = df[df.split == 'train'].index
    cut = train[:len(train) - args.holdout]            # the rows trained on; the holdout's labels stay
    rng = np.random.default_rng(0)
    for g in GROUPS:
        drop = cut[rng.random(len(cut)) < args.drop]
        df.loc[drop, g] = np.nan
    kept = {g: int(df.loc[cut, g].notna().sum()) for g in GROUPS}
    print(json.dumps(dict(train_images=len(cut), labelled_per_group=kept, holdout=args.holdout, drop=args.drop)), flush=True)
    out = {}
    for m in ['joint', 'progressive']:
        if args.only and m != args.only: continue
        out[m] = run(m, df, args)
        print(json.dumps(out[m]), flush=True)
    if len(out) == 2:
        j,pr = out['joint'],out['progressive']
        print(json.dumps(dict(progressive_minus_joint=round(pr['mean_accuracy'] - j['mean_accuracy'], 4),
                              images_seen_ratio=round(pr['images_seen'] / j['images_seen'], 3),
                              time_ratio=round(pr['seconds'] / j['seconds'], 3))))
