"""Fine-tune on the real FashionDataset with a fixed holdout, and time fastai's epoch against a hand-written loop.

Part 1 (accuracy): `fashion_dls(holdout=H)` trains on the first 5000-H train images and validates on the last H;
`fashion_learner(arch).fine_tune(epochs, freeze_epochs=…)`; prints mean and per-group accuracy on the holdout and
seconds per epoch of each stage.
Part 2 (overhead): the same model, DataLoaders and augmentation, unfrozen, one epoch (train + validation with the
per-group accuracies) through `learn.fit` and through a hand-written PyTorch loop (Adam, the same loss); each is timed
twice in ABAB order and the faster of each pair is kept; prints fastai/hand-written.

Usage: python benchmarks/train_attributes.py [--data DIR] [--holdout 1000] [--arch tf_efficientnet_lite0] [--size 160]
       [--epochs 3] [--freeze-epochs 1] [--bs 64] [--device cpu|cuda] [--skip-train] [--skip-loop]
"""
import argparse, json, os, time
import numpy as np, torch
from fastai.callback.core import Callback
from fashion_fastai.datasets import GROUPS, shared_data
from fashion_fastai.data import fashion_dls
from fashion_fastai.learner import fashion_learner

def sync():
    if torch.cuda.is_available(): torch.cuda.synchronize()

class EpochTimer(Callback):
    "Seconds of each epoch, by stage"
    order = 100
    def before_fit(self): self.stage = 'frozen' if self.opt.frozen_idx else 'unfrozen'
    def before_epoch(self): sync(); self.t = time.perf_counter()
    def after_epoch(self):
        sync(); self.learn.epoch_times = getattr(self.learn, 'epoch_times', []) + [(self.stage, time.perf_counter() - self.t)]

def plain(b):
    "fastai's batches as plain tensors (fastai's CastToTensor callback does the same before each batch)"
    return [t.as_subclass(torch.Tensor) for t in b]

def hand_loop(model, dls, loss_func, lr):
    "One epoch of plain PyTorch over the same DataLoaders: train, then validate with per-group accuracy"
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for b in dls.train:
        xb, *yb = plain(b)
        loss = loss_func(model(xb), *yb)
        loss.backward(); opt.step(); opt.zero_grad()
    model.eval(); correct = np.zeros(len(yb)); total = np.zeros(len(yb))
    with torch.no_grad():
        for b in dls.valid:
            xb, *yb = plain(b)
            for i, (p, t) in enumerate(zip(model(xb), yb)):
                m = t >= 0; correct[i] += (p.argmax(-1)[m] == t[m]).sum().item(); total[i] += m.sum().item()
    return (correct / total).mean()

def timed(f):
    sync(); t = time.perf_counter(); f(); sync(); return time.perf_counter() - t

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--data', default=None); p.add_argument('--holdout', type=int, default=1000)
    p.add_argument('--arch', default='tf_efficientnet_lite0'); p.add_argument('--size', type=int, default=160)
    p.add_argument('--epochs', type=int, default=3); p.add_argument('--freeze-epochs', type=int, default=1)
    p.add_argument('--lr', type=float, default=2e-3); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--workers', type=int, default=None); p.add_argument('--device', default=None)
    p.add_argument('--skip-train', action='store_true'); p.add_argument('--skip-loop', action='store_true')
    a = p.parse_args()
    data = a.data or shared_data('fashion-attributes/FashionDataset')
    if data is None: raise SystemExit("No real data: pass --data or put it at ../shared/data/fashion-attributes/FashionDataset")
    workers = a.workers if a.workers is not None else min(8, os.cpu_count())
    dls = fashion_dls(data, bs=a.bs, size=a.size, holdout=a.holdout, device=a.device, num_workers=workers)
    info = dict(arch=a.arch, size=a.size, bs=a.bs, train=len(dls.train_ds), holdout=len(dls.valid_ds), torch_threads=torch.get_num_threads(),
                device=str(dls.device), gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None, cpus=os.cpu_count())
    print(json.dumps(info), flush=True)
    if not a.skip_train:
        learn = fashion_learner(dls, arch=a.arch, cbs=EpochTimer())
        t = time.perf_counter()
        learn.fine_tune(a.epochs, base_lr=a.lr, freeze_epochs=a.freeze_epochs)
        names = learn.recorder.metric_names[3:-1]
        vals = dict(zip(names, learn.recorder.values[-1][2:]))
        by = lambda s: [round(x, 1) for st, x in learn.epoch_times if st == s]
        print(json.dumps(dict(result='fine_tune', epochs=a.epochs, freeze_epochs=a.freeze_epochs, lr=a.lr,
                              mean_accuracy=round(vals['mean_accuracy'], 4),
                              per_group={g: round(vals[f'{g}_acc'], 4) for g in GROUPS},
                              s_per_epoch_frozen=by('frozen'), s_per_epoch_unfrozen=by('unfrozen'),
                              total_s=round(time.perf_counter() - t, 1))), flush=True)
    if not a.skip_loop:
        learn = fashion_learner(dls, arch=a.arch); learn.unfreeze()
        model, lf = learn.model, learn.loss_func
        fa, hw = [], []
        for _ in range(2):
            fa.append(timed(lambda: learn.fit(1, 1e-4)))
            hw.append(timed(lambda: hand_loop(model, dls, lf, 1e-4)))
        print(json.dumps(dict(result='epoch_overhead', fastai_s=[round(x, 2) for x in fa], hand_written_s=[round(x, 2) for x in hw],
                              fastai_over_hand_written=round(min(fa) / min(hw), 3))), flush=True)
