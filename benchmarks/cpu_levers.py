"""What each speed lever buys on this machine's CPU: training-step throughput (images/s, forward + backward + Adam)
for EfficientNet-Lite0/1/2 (and ResNets) at several sizes, NCHW against channels-last (NHWC); fastai's frozen stage
(BN layers still train, so the backward pass runs through the whole body) against a head-only step; the first half
of the body fixed, batchnorm included (`fixed_groups=1`, `--fixed-groups 1`) against a full step, per size; torch.compile;
and what the DataLoader alone delivers on the real photos (decode, presize, batch augmentation).

Each throughput is the best of `--reps` timed steps after one warm-up step, random inputs, batch 32. Ratios are
printed from figures measured in the same run. Run alone on an idle machine.

Usage: python benchmarks/cpu_levers.py [--archs tf_efficientnet_lite0,tf_efficientnet_lite2] [--sizes 128,160,192,224]
       [--reps 3] [--compile] [--resnets] [--skip-data]
"""
import argparse, json, os, time
import torch, torch.nn.functional as F
from fastai.callback.training import set_bn_eval
from fashion_fastai.models import create_fashion_model, fashion_splitter

def throughput(arch, size, channels_last=False, mode='full', bs=32, reps=3, compile=False):
    """Training images per second: mode 'full' (all layers), 'frozen' (fastai's freeze: BN trains), 'head' (body fixed, BN eval),
    'fixed1' (the splitter's first group fixed, its BN in eval: what `FixedGroups(1)` does)"""
    m = create_fashion_model(arch, 10, pretrained=False)
    if mode == 'fixed1':
        fixed = fashion_splitter(arch)(m)[0]
        for p in fixed: p.requires_grad_(False)
    elif mode != 'full':
        for n,p in m[0].named_parameters():
            p.requires_grad_(mode == 'frozen' and any(isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and n.startswith(mn + '.')
                                                      for mn,mod in m[0].named_modules() if mn))
    m.train()
    if mode == 'head': m[0].eval()
    if mode == 'fixed1': set_bn_eval(m)                  # what `FixedGroups` gets from fastai's `BnFreeze`
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], 1e-3)
    x, y = torch.randn(bs, 3, size, size), torch.randint(0, 10, (bs,))
    if channels_last: m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    f = torch.compile(m) if compile else m
    def step():
        F.cross_entropy(f(x), y).backward(); opt.step(); opt.zero_grad()
    t = time.perf_counter(); step(); first = time.perf_counter() - t
    best = min(_timed(step) for _ in range(reps))
    return bs/best, first

def _timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t

def dataloader_throughput(sub, size, batches=15):
    from fashion_fastai.datasets import shared_data
    from fashion_fastai.data import fashion_dls
    data = shared_data(sub)
    if data is None: return None
    dls = fashion_dls(data, bs=32, size=size, holdout=1000 if 'Fashion' in sub else None, crop_bbox=True)
    it = iter(dls.train); next(it)
    t, n = time.perf_counter(), 0
    for _, b in zip(range(batches), it): n += len(b[0])
    return n/(time.perf_counter() - t)

def out(**kw): print(json.dumps(kw), flush=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--archs', default='tf_efficientnet_lite0,tf_efficientnet_lite1,tf_efficientnet_lite2')
    p.add_argument('--sizes', default='128,160,192,224'); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--compile', action='store_true'); p.add_argument('--resnets', action='store_true'); p.add_argument('--skip-data', action='store_true')
    a = p.parse_args()
    out(cpus=os.cpu_count(), torch=torch.__version__, threads=torch.get_num_threads())
    sizes = [int(s) for s in a.sizes.split(',')]
    for arch in a.archs.split(','):
        for s in sizes:
            nchw, _ = throughput(arch, s, reps=a.reps)
            nhwc, _ = throughput(arch, s, True, reps=a.reps)
            out(arch=arch, size=s, nchw_img_s=round(nchw, 1), nhwc_img_s=round(nhwc, 1), nhwc_over_nchw=round(nhwc/nchw, 2))
    arch, s = a.archs.split(',')[0], sizes[len(sizes)//2]
    full, _ = throughput(arch, s, True, reps=a.reps)
    frozen, _ = throughput(arch, s, True, 'frozen', reps=a.reps)
    head, _ = throughput(arch, s, True, 'head', reps=a.reps)
    out(arch=arch, size=s, nhwc=True, full_img_s=round(full, 1), fastai_frozen_img_s=round(frozen, 1), head_only_img_s=round(head, 1),
        frozen_over_full=round(frozen/full, 2), head_only_over_full=round(head/full, 2))
    for s in sizes:
        full, _ = throughput(arch, s, True, reps=a.reps)
        fixed, _ = throughput(arch, s, True, 'fixed1', reps=a.reps)
        out(arch=arch, size=s, nhwc=True, full_img_s=round(full, 1), fixed_groups_1_img_s=round(fixed, 1), fixed_over_full=round(fixed/full, 2))
    if a.resnets:
        for arch in ('resnet34', 'resnet50'):
            r, _ = throughput(arch, 160, True, reps=a.reps)
            out(arch=arch, size=160, nhwc_img_s=round(r, 1))
    if a.compile:
        eager, _ = throughput(a.archs.split(',')[0], 160, True, reps=a.reps)
        comp, first = throughput(a.archs.split(',')[0], 160, True, reps=a.reps, compile=True)
        out(arch=a.archs.split(',')[0], size=160, eager_img_s=round(eager, 1), compiled_img_s=round(comp, 1),
            compiled_over_eager=round(comp/eager, 2), compile_s=round(first, 1))
    if not a.skip_data:
        for sub in ('clothing-types', 'fashion-attributes/FashionDataset'):
            r = dataloader_throughput(sub, 160)
            out(dataloader=sub, size=160, workers='fastai default', img_s=None if r is None else round(r, 1))
