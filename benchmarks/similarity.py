"""Similarity search on the real clothing-types photos: precision@k of the fine-tuned embeddings against ImageNet
embeddings without fine-tuning, and how long exact search takes (numpy; faiss-cpu's exact index when installed).

Quality, for the pooled body features (`features='pool'`) and, of the fine-tuned model, the head's hidden layer
(`features='head'`): the gallery is the `train/` split (3,068 photos), the queries the `validation/` split (341); precision@k is
the mean fraction of each query's k nearest gallery photos of the query's own class. Also leave-one-out within the
validation split. Two models, the same architecture and preprocessing:
- fine-tuned: an export folder trained on `train/` (default: the `cpu` recipe's, as `benchmarks/recipes.py --only types`
  writes it);
- ImageNet: the same architecture with its ImageNet weights and no training (`fashion_learner` + `export_learner`).

Speed: milliseconds per query for one query and for a batch of 341, on galleries of the real size and of synthetic
unit vectors up to `--max-gallery`, with `SimilarityIndex.search` and, if `faiss` imports, `faiss.IndexFlatIP`.
Prints one JSON line per measurement. Run alone on an idle machine.

Usage: python benchmarks/similarity.py [--model runs/recipes/types-cpu] [--k 5] [--max-gallery 300000] [--skip-quality]
"""
import argparse, json, tempfile, time
from pathlib import Path
import numpy as np
from fashion_fastai.datasets import shared_data, read_dataset
from fashion_fastai.similarity import Embedder, SimilarityIndex, precision_at_k

def imagenet_export(model:Path, out:Path) -> Path:
    "An export folder of `model`'s architecture and preprocessing with ImageNet weights and an untrained head"
    from fashion_fastai.data import fashion_dls
    from fashion_fastai.learner import fashion_learner
    from fashion_fastai.export import export_learner
    cfg = json.loads((model/'config.json').read_text())
    t = cfg['training']
    dls = fashion_dls(t['data'], bs=32, size=t['size'], crop_bbox=t['crop_bbox'], num_workers=0, device='cpu')
    export_learner(fashion_learner(dls, arch=t['arch'], pretrained=True, path=out), out)
    assert json.loads((out/'config.json').read_text())['input'] == cfg['input'], 'the preprocessing differs'
    return out

def quality(model:Path, data:Path, k:int, name:str, features:str='pool') -> dict:
    df = read_dataset(data)
    tr, va = df[df.split == 'train'], df[df.split == 'val']
    emb = Embedder(model, features=features)
    t = time.perf_counter()
    idx = SimilarityIndex.build(emb, tr.path, tr.label.astype(str).tolist())
    t_index = time.perf_counter() - t
    q = emb(va.path)
    vl = va.label.astype(str).tolist()
    loo = SimilarityIndex(q, va.path, vl)
    return dict(model=name, features=features, export=str(model), gallery=len(idx), queries=len(va), dim=int(idx.emb.shape[1]),
                **{f'precision_at_{n}': round(precision_at_k(idx, q, vl, n), 4) for n in sorted({1, k})},
                **{f'val_leave_one_out_precision_at_{k}': round(precision_at_k(loo, q, vl, k, exclude=np.arange(len(q))), 4)},
                index_images_per_s=round(len(idx)/t_index, 1))

def _ms(f, reps=3):
    best = float('inf')
    for _ in range(reps):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    return best*1e3

def speed(n:int, dim:int, k:int, rng) -> dict:
    g = rng.standard_normal((n, dim), dtype=np.float32); g /= np.linalg.norm(g, axis=1, keepdims=True)
    q = g[rng.choice(n, 341, replace=False)] + 0.01
    idx = SimilarityIndex(g, [''] * n)
    r = dict(gallery=n, dim=dim, numpy_ms_1_query=round(_ms(lambda: idx.search(q[:1], k)), 3),
             numpy_ms_per_query_batch_341=round(_ms(lambda: idx.search(q, k))/341, 3), gallery_mb=round(g.nbytes/2**20, 1))
    try: import faiss
    except ImportError: return r | dict(faiss='not installed')
    fi = faiss.IndexFlatIP(dim); fi.add(g)
    r |= dict(faiss_ms_1_query=round(_ms(lambda: fi.search(q[:1], k)), 3), faiss_ms_per_query_batch_341=round(_ms(lambda: fi.search(q, k))/341, 3))
    same = (fi.search(q, k)[1] == idx.search(q, k)[1]).mean()
    return r | dict(faiss_same_neighbours=round(float(same), 4), numpy_over_faiss_batch=round(r['numpy_ms_per_query_batch_341']/r['faiss_ms_per_query_batch_341'], 2))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--model', default='runs/recipes/types-cpu'); p.add_argument('--k', type=int, default=5)
    p.add_argument('--max-gallery', type=int, default=300_000); p.add_argument('--skip-quality', action='store_true')
    a = p.parse_args()
    data, model = shared_data('clothing-types'), Path(a.model)
    dim = 2560
    if not a.skip_quality:
        if data is None: print(json.dumps(dict(skipped="real data 'clothing-types' not found under ../shared/data")))
        elif not (model/'config.json').exists(): print(json.dumps(dict(skipped=f'{model} is not an export folder: run benchmarks/recipes.py --only types first')))
        else:
            ft = quality(model, data, a.k, 'fine-tuned'); print(json.dumps(ft), flush=True)
            fh = quality(model, data, a.k, 'fine-tuned', 'head'); print(json.dumps(fh), flush=True)
            with tempfile.TemporaryDirectory() as d:
                im = quality(imagenet_export(model, Path(d)/'imagenet'), data, a.k, 'imagenet'); print(json.dumps(im), flush=True)
            dim = ft['dim']
            pk = f'precision_at_{a.k}'
            print(json.dumps({f'fine_tuned_pool_over_imagenet_{pk}': round(ft[pk]/im[pk], 3), f'fine_tuned_head_over_imagenet_{pk}': round(fh[pk]/im[pk], 3)}))
    rng = np.random.default_rng(0)
    for n in [3068, 30_000, 300_000]:
        if n <= a.max_gallery: print(json.dumps(speed(n, dim, a.k, rng)), flush=True)
