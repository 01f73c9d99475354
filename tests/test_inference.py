"""The fastai-free inference path, run where fastai cannot be imported: its probabilities equal `learn.get_preds`.

A module-scoped fixture trains a small learner per task in this process (with fastai), exports it and records
`get_preds` on the validation images. The checks then run `fashion_fastai.inference` (and the CLI) in a subprocess
whose import system refuses fastai, fastcore, fasttransform and fastprogress."""
import json, subprocess, sys, textwrap
from pathlib import Path
from conftest import CPU_ONLY
import numpy as np
import pytest

BLOCK = textwrap.dedent('''
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in ('fastai', 'fastcore', 'fasttransform', 'fastprogress'):
                raise ImportError(f'{name} is blocked in this test: the inference path must not import it')
    sys.meta_path.insert(0, _Block())
    ''')

def run_blocked(code, *args):
    "Run `code` in a fresh Python whose import of fastai (and its own libraries) fails"
    src = BLOCK + textwrap.dedent(code) + "\nassert not [m for m in sys.modules if m.split('.')[0] in ('fastai', 'fastcore')]\n"
    return subprocess.run([sys.executable, '-c', src, *map(str, args)], capture_output=True, text=True, timeout=600, env=CPU_ONLY)

def test_blocking_works():
    r = run_blocked('import fastai')
    assert r.returncode != 0 and 'blocked in this test' in r.stderr

TASKS = {  # task: (fashion_dls kwargs, fashion_learner kwargs)
    'attributes': (dict(size=48, crop_bbox=True), dict(arch='tf_efficientnet_lite0')),     # small: what is compared needs no detail
    'categories': (dict(size=48, presize=56, resize_method='crop'),
                   dict(arch='resnet18', pretrained=False, lin_ftrs=[64], concat_pool=False)),
}

@pytest.fixture(params=list(TASKS))
def trained(request, once):
    "A briefly trained learner's export folder, its validation images and bboxes, and fastai's probabilities and metrics"
    task = request.param
    d = once(f'inference-{task}', lambda d: _train(task, d))
    ref,targ = np.load(d/'ref.npz'),np.load(d/'targ.npz')
    return dict(task=task, tmp=d, out=d/'export', preds=[ref[f] for f in ref.files], targs=[targ[f] for f in targ.files],
                metrics=json.loads((d/'metrics.json').read_text()), items=json.loads((d/'items.json').read_text()),
                data=Path((d/'data.txt').read_text()))

def _train(task, tmp):
    "Train the task's small learner in this process (with fastai) and keep what the tests compare against"
    from fastai.torch_core import set_seed
    from fashion_fastai.sample import sample_path
    from fashion_fastai.data import fashion_dls
    from fashion_fastai.learner import fashion_learner
    from fashion_fastai.export import export_learner
    from fashion_fastai.datasets import BBOX
    set_seed(0)
    dkw,lkw = TASKS[task]
    dls = fashion_dls(sample_path(task), bs=32, num_workers=0, device='cpu', **dkw)   # CPU on both sides: GPUs round differently (TF32)
    learn = fashion_learner(dls, path=tmp, **lkw)
    from fastai.callback.training import ShortEpochCallback
    learn.fit(1, 1e-3, cbs=ShortEpochCallback(0.25, short_valid=False))   # a quarter of an epoch: a model of its own, not a good one
    export_learner(learn, tmp/'export')
    preds,targs = learn.get_preds(dl=dls.valid)
    np.savez(tmp/'ref.npz', *[p.numpy() for p in (preds if isinstance(preds, (tuple, list)) else [preds])])
    np.savez(tmp/'targ.npz', *[t.numpy() for t in (targs if isinstance(targs, (tuple, list)) else [targs])])
    items = dls.valid.items
    (tmp/'items.json').write_text(json.dumps(dict(paths=items.path.tolist(), bboxes=items[BBOX].to_numpy(dtype=float).tolist())))
    (tmp/'metrics.json').write_text(json.dumps(dict(zip([m.name for m in learn.metrics], map(float, learn.validate()[1:])))))
    (tmp/'data.txt').write_text(str(sample_path(task)))
    # fastai's own embeddings of the first six validation images, uncropped (the similarity test indexes copies of the
    # files, which carry no bounding box): its input pipeline, the learner's body and the head's pooling
    import torch, torch.nn.functional as F
    rows = items.iloc[:6].copy(); rows[BBOX] = np.nan
    xb = dls.test_dl(rows, num_workers=0).one_batch()[0]
    body,head = learn.model.eval()
    with torch.no_grad():
        f = body(xb)
        f = head.pool(f) if task == 'attributes' else head[1](head[0](f))     # create_head: pooling, then Flatten
    np.save(tmp/'emb.npy', F.normalize(f.flatten(1), dim=1).numpy())

# Loading a model unpickles nothing (`model.safetensors` and `config.json` only): the process that computes the
# probabilities makes every unpickler fail first
NO_PICKLE = '''
    import pickle, torch
    def _no(*a, **k): raise AssertionError('unpickling attempted')
    class _NoUnpickler(pickle.Unpickler):
        def __init__(self, *a, **k): _no()
    pickle.load = pickle.loads = torch.load = _no
    pickle.Unpickler = _NoUnpickler
    '''

PROBS = NO_PICKLE + '''
    import json, numpy as np
    from fashion_fastai.inference import Predictor
    out, items, dst, backend = sys.argv[1:5]
    it = json.loads(open(items).read())
    p = Predictor(out, device='cpu', backend=backend)
    probs = p.probs(it['paths'], it['bboxes'], bs=13)
    np.savez(dst, *[probs[h] for h in p.heads])
    print(p.task)
    '''

def _compare(trained, backend):
    dst = trained['tmp']/f'{backend}.npz'
    r = run_blocked(PROBS, trained['out'], trained['tmp']/'items.json', dst, backend)
    assert r.returncode == 0 and r.stdout.strip() == trained['task'], r.stderr
    got = np.load(dst)
    assert len(got.files) == len(trained['preds'])
    err = max(np.abs(got[f] - ref).max() for f,ref in zip(got.files, trained['preds']))
    assert err < 1e-4, f'largest probability difference {err}'
    return err

def test_probabilities_equal_get_preds_without_fastai_or_unpickling(trained):
    _compare(trained, 'torch')

# ONNX for the default backbone (Lite0): 05_inference compares both tasks' ONNX probabilities with fastai's; here the
# export and the runtime run where fastai cannot be imported (each dynamo export costs ~10 s)
@pytest.mark.parametrize('trained', ['attributes'], indirect=True)
def test_onnx_probabilities_equal_get_preds(trained):
    r = run_blocked('from fashion_fastai.cli import main; sys.exit(main(["export-onnx", "--model", sys.argv[1]]))', trained['out'])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['onnx'].endswith('model.onnx')
    _compare(trained, 'onnx')

@pytest.fixture
def commands(trained, once):
    """`evaluate` then `interpret` on the trained model, run once per task in one process where fastai cannot be
    imported (each must return 0): their JSON lines, and the interpretation's folder"""
    def make(d):
        code = '''
            from fashion_fastai.cli import main
            model, data, out = sys.argv[1:4]
            assert main(["evaluate", "--model", model, "--data", data]) == 0
            assert main(["interpret", "--model", model, "--data", data, "--out", out, "--top-losses", "4"]) == 0
            '''
        r = run_blocked(code, trained['out'], trained['data'], d/'interp')
        (d/'result.json').write_text(json.dumps(dict(rc=r.returncode, stdout=r.stdout, stderr=r.stderr)))
    d = once(f"commands-{trained['task']}", make)
    r = json.loads((d/'result.json').read_text())
    assert r['rc'] == 0, r['stderr']
    lines = r['stdout'].splitlines()          # evaluate's JSON, then interpret's
    assert len(lines) == 2, r['stdout'] + r['stderr']
    return dict(evaluate=json.loads(lines[0]), interpret=json.loads(lines[1]), out=d/'interp')

def test_cli_evaluate_without_fastai_matches_learn_validate(trained, commands):
    res = commands['evaluate']
    assert res['task'] == trained['task'] and res['n'] == len(trained['preds'][0]) and res['unreadable'] == 0
    m = trained['metrics']
    if trained['task'] == 'attributes':
        assert res['mean_accuracy'] == pytest.approx(m['mean_accuracy'], abs=1e-6)
        assert res['per_group'] == pytest.approx({g: m[f'{g}_acc'] for g in res['per_group']}, abs=1e-6)
    else:
        for k in ('accuracy', 'top_3_accuracy', 'top_5_accuracy'): assert res[k] == pytest.approx(m[k], abs=1e-6)

def test_cli_interpret_without_fastai_agrees_with_sklearn(trained, commands):
    """`interpret` where fastai cannot be imported: its predictions are fastai's, its tables are scikit-learn's numbers on
    them, its top losses are sorted and are the cross-entropies of fastai's probabilities"""
    import pandas as pd
    from sklearn.metrics import confusion_matrix, classification_report
    out = commands['out']
    res = commands['interpret']
    classes = json.loads((trained['out']/'config.json').read_text())['classes']
    n = len(trained['preds'][0])
    assert res['n'] == n and res['unreadable'] == 0 and list(res['accuracy'])[:len(classes)] == list(classes)
    for f in res['files']: assert (out/f).stat().st_size > 0
    assert all((out/f).read_bytes()[:4] == b'\x89PNG' for f in res['files'] if f.endswith('.png'))
    pred = pd.read_csv(out/'predictions.csv', keep_default_na=False, na_values=[''])
    assert pred.image.tolist() == trained['items']['paths']
    report = pd.read_csv(out/'report.csv')
    losses = np.zeros(n)
    for (g,names),probs,targ in zip(classes.items(), trained['preds'], trained['targs']):
        idx = {c: i for i,c in enumerate(names)}
        actual = np.array([idx.get(a, -1) if isinstance(a, str) else -1 for a in pred[f'{g}_actual']])
        assert (actual == targ).all(), g                                        # the dataset's labels, as fastai reads them
        p = np.array([idx[c] for c in pred[f'{g}_pred']])
        top2 = np.sort(probs, 1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-3                                  # no near-tie that float rounding could flip
        assert (p[clear] == probs[clear].argmax(1)).all() and clear.mean() > 0.9, g
        m = targ >= 0
        cm = pd.read_csv(out/f'confusion_{g}.csv', index_col=0)
        assert list(cm.columns) == names and (cm.to_numpy() == confusion_matrix(targ[m], p[m], labels=range(len(names)))).all(), g
        sk = classification_report(targ[m], p[m], output_dict=True, zero_division=0)
        rows = report[report.group == g]
        assert rows['class'].tolist() == [names[i] for i in sorted(set(targ[m]) | set(p[m]))]
        for c,row in zip(sorted(set(targ[m]) | set(p[m])), rows.itertuples()):
            assert [row.precision, row.recall, row.f1] == pytest.approx([sk[str(c)][k] for k in ('precision', 'recall', 'f1-score')], abs=1e-6)
            assert row.support == sk[str(c)]['support']
        assert res['accuracy'][g] == pytest.approx(sk['accuracy'], abs=1e-6)
        losses += np.where(m, -np.log(probs[np.arange(n), targ.clip(0)]), 0)
    top = pd.read_csv(out/'top_losses.csv', keep_default_na=False, na_values=[''])
    assert len(top) == 4 and top.loss.is_monotonic_decreasing
    assert top.loss.to_numpy() == pytest.approx(losses[[pred.image.tolist().index(i) for i in top.image]], rel=1e-3, abs=1e-3)
    assert top.loss.min() >= np.sort(losses)[-4] - 1e-3                        # they are the four largest

def test_similarity_and_service_without_fastai(trained, tmp_path):
    """`index`, `similar` and the service's app where fastai cannot be imported: the embeddings are fastai's pooled body
    features, L2-normalised, as the learner computed them from fastai's own preprocessing"""
    paths = json.loads((trained['tmp']/'items.json').read_text())['paths']
    gallery = tmp_path/'g'/'c'
    gallery.mkdir(parents=True)
    for i,p in enumerate(paths[:6]): (gallery/f'{i}.jpg').write_bytes(Path(p).read_bytes())
    code = '''
        from fashion_fastai.cli import main
        from fashion_fastai.serve import Service, create_app
        assert main(["index", "--model", sys.argv[1], "--images", sys.argv[2], "--out", sys.argv[3]]) == 0
        assert main(["similar", "--index", sys.argv[3], sys.argv[4], "-k", "2", "--sheet", ""]) == 0
        Service(sys.argv[1], index=sys.argv[3]).predict(open(sys.argv[4], "rb").read())
        '''
    r = run_blocked(code, trained['out'], tmp_path/'g', tmp_path/'idx', gallery/'3.jpg')
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert lines[0]['n'] == 6 and lines[0]['labels'] == 1
    assert lines[1]['neighbours'][0]['image'] == str(gallery/'3.jpg') and lines[1]['neighbours'][0]['distance'] < 1e-4
    from safetensors.numpy import load_file
    emb = load_file(str(tmp_path/'idx'/'embeddings.safetensors'))['embeddings']
    ref = np.load(trained['tmp']/'emb.npy')                   # fastai's preprocessing and model, in the training process
    assert emb.shape == ref.shape and np.abs(emb - ref).max() < 1e-4, np.abs(emb - ref).max()

def test_the_model_cards_code_runs_without_fastai(trained):
    "The card `export_learner` wrote: its Python block runs as written (its folder and photo filled in) where fastai cannot be imported"
    import re
    card = (trained['out']/'README.md').read_text()
    assert card.startswith('---\nlibrary_name: fashion-fastai\n') and f"clothing-{trained['task']}" in card
    code = re.search(r'```python\n(.*?)```', card, re.S).group(1)
    photo = json.loads((trained['tmp']/'items.json').read_text())['paths'][0]
    code = re.sub(r"^MODEL, PHOTOS = .*$", f"MODEL, PHOTOS = {str(trained['out'])!r}, [{photo!r}]", code, count=1, flags=re.M)
    r = run_blocked(code + "\nprint('shapes', [tuple(l.shape) for l in (logits if isinstance(logits, tuple) else (logits,))])\n")
    assert r.returncode == 0, r.stderr
    n_heads = 6 if trained['task'] == 'attributes' else 1
    assert r.stdout.count("'prob'") >= n_heads and r.stdout.strip().splitlines()[-1].count('(1, ') == n_heads
