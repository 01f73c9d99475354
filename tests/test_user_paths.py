"""What a user runs, the way they run it: the commands without the optional extras, `python -m fashion_fastai`, and the
Python API training exactly as the command line does."""
import json, subprocess, sys, textwrap
import pytest
from conftest import CPU_ONLY, cli_in

# starlette and python-multipart are not among them: fastprogress imports them (through python-fasthtml), so every
# install has them; uvicorn comes with python-fasthtml too, but only the service imports it
EXTRAS = ('accelerate', 'onnx', 'onnxruntime', 'onnxscript', 'fastapi', 'uvicorn', 'pyarrow')
# None in sys.modules is how Python says "not installed" to both `import` (ModuleNotFoundError) and
# `importlib.util.find_spec` (None), which libraries such as torch use to look for optional packages
BLOCK = f"""
import sys
for _name in {EXTRAS!r}: sys.modules[_name] = None
"""

def without_extras(code, *args):
    "Run `code` in a fresh Python where importing an optional extra fails as it does when it is not installed"
    return subprocess.run([sys.executable, '-c', BLOCK + textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=CPU_ONLY)

def test_the_block_works():
    r = without_extras('import accelerate')
    assert r.returncode != 0 and 'ModuleNotFoundError' in r.stderr

def test_every_base_command_runs_without_the_extras(tmp_path):
    "sample → show-batch → train → evaluate → predict → interpret → index → similar, none of the extras importable"
    code = """
    import io, json, contextlib
    from fashion_fastai.cli import main
    d, m = sys.argv[1], sys.argv[2]
    def run(*a):
        out = io.StringIO()
        with contextlib.redirect_stdout(out): rc = main(list(a))
        return rc, out.getvalue()
    assert run('sample', d, '--n', '40', '--seed', '3')[0] == 0
    rc, out = run('show-batch', '--data', d, '--size', '32', '--bs', '4', '--max-n', '2', '--out', m + '-batch.png')
    assert rc == 0 and json.loads(out)['batch'] == [4, 3, 32, 32], out
    rc, out = run('train', '--data', d, '--size', '32', '--epochs', '1', '--bs', '8', '--workers', '0', '--holdout', '8', '--out', m)
    assert rc == 0 and json.loads(out)['n_valid'] == 8, out
    rc, out = run('evaluate', '--model', m, '--split', 'holdout')
    assert rc == 0 and json.loads(out)['n'] == 8, out
    img = sorted(__import__('pathlib').Path(d).rglob('*.jpg'))[0]
    rc, out = run('predict', '--model', m, str(img))
    assert rc == 0 and json.loads(out)['image'] == str(img), out
    assert run('interpret', '--model', m, '--split', 'holdout', '--out', m + '-i')[0] == 0
    assert run('index', '--model', m, '--images', d, '--out', m + '-x')[0] == 0
    assert run('similar', '--index', m + '-x', str(img), '--sheet', '')[0] == 0
    assert not [n for n,m in sys.modules.items() if m is not None and n.split('.')[0] in ('accelerate', 'onnx', 'onnxruntime', 'fastapi', 'uvicorn')]
    print('OK')
    """
    r = without_extras(code, tmp_path/'d', tmp_path/'m')
    assert r.returncode == 0 and r.stdout.strip().endswith('OK'), r.stderr[-3000:]
    assert 'Traceback' not in r.stderr

@pytest.fixture(scope='session')
def model(once):
    "A tiny model and its data (made once for all workers)"
    def make(d):
        assert cli_in('sample', d/'data', '--n', '30', '--seed', '1').returncode == 0      # in this process: a fixture, not a test of the command
        r = cli_in('train', '--data', d/'data', '--size', '32', '--epochs', '1', '--freeze-epochs', '0', '--bs', '8', '--workers', '0',
                '--no-pretrained', '--arch', 'resnet18', '--no-interpret', '--out', d/'m')
        assert r.returncode == 0, r.stderr
    return once('user-paths-model', make)

@pytest.mark.parametrize('argv,extra', [
    (['export-onnx', '--model', '{m}'], 'onnx'),
    (['predict', '--model', '{m}', '--onnx', '{img}'], 'onnx'),
    (['serve', '--model', '{m}'], 'serve'),
    (['predict', '--model', '{m}', '{d}', '--out', '{m}-p.parquet'], 'parquet'),
    (['train', '--data', '{d}', '--size', '32', '--epochs', '1', '--bs', '8', '--workers', '0', '--out', '{m}2'], 'distributed'),
])
def test_a_missing_extra_is_a_one_line_error_naming_it(model, argv, extra):
    img = sorted((model/'data').rglob('*.jpg'))[0]
    if extra == 'onnx' and argv[0] == 'predict': (model/'m'/'model.onnx').write_bytes(b'not really')   # exists: the runtime is what is missing
    code = """
    import os, json
    if sys.argv[1] == 'train': os.environ['WORLD_SIZE'] = '2'      # as `accelerate launch` sets it for each process
    from fashion_fastai.cli import main
    sys.exit(main(sys.argv[1:]))
    """
    r = without_extras(code, *[a.format(m=model/'m', d=model/'data', img=img) for a in argv])
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert f'''pip install 'fashion-fastai[{extra}]\'''' in lines[-1], lines

def test_python_m_runs_the_command(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'fashion_fastai', 'sample', tmp_path/'s', '--n', '10'], capture_output=True, text=True, env=CPU_ONLY)
    assert r.returncode == 0 and json.loads(r.stdout)['n'] == 10, r.stderr
    r = subprocess.run([sys.executable, '-m', 'fashion_fastai.cli', 'sample', tmp_path/'t', '--n', '10'], capture_output=True, text=True, env=CPU_ONLY)
    assert r.returncode == 0 and json.loads(r.stdout)['n'] == 10 and (tmp_path/'t').is_dir(), r.stderr
    r = subprocess.run([sys.executable, '-m', 'fashion_fastai'], capture_output=True, text=True, env=CPU_ONLY)
    assert r.returncode == 2 and 'usage: fashion-fastai' in r.stderr

def test_python_api_and_command_line_train_alike(tmp_path):
    """`train(...)` and `fashion-fastai train` with the same settings and seed: the same normalisation, the same metrics
    (both in this process: what a fresh process adds, the command's start-up and log, is tested in test_cli)"""
    from fashion_fastai.training import train
    from fashion_fastai.data import fashion_dls, norm_stats
    from fashion_fastai.learner import fashion_learner
    assert cli_in('sample', tmp_path/'d', '--n', '40', '--seed', '2').returncode == 0
    opts = dict(size=32, epochs=1, bs=8, workers=0, holdout=8, seed=3)
    r = cli_in('train', '--data', tmp_path/'d', '--out', tmp_path/'cli', '--no-interpret', *[x for k,v in opts.items() for x in (f'--{k}', v)])
    assert r.returncode == 0, r.stderr
    res = train(tmp_path/'d', out=tmp_path/'py', interpret=False, **opts)
    learn = fashion_learner(fashion_dls(tmp_path/'d', bs=8, size=32, holdout=8, num_workers=0))    # the three-line API
    c_cfg, p_cfg = (json.loads((tmp_path/f/'config.json').read_text()) for f in ('cli', 'py'))
    assert c_cfg['input'] == p_cfg['input'] and c_cfg['input']['mean'] == [0.5]*3 and c_cfg['input']['std'] == [0.5]*3
    assert [[round(float(x), 6) for x in v] for v in norm_stats(learn.dls)] == [[0.5]*3, [0.5]*3]   # EfficientNet-Lite0's, not ImageNet's
    c_m = json.loads(r.stdout)
    assert c_m['valid'] == pytest.approx(res['valid'], abs=1e-5), (c_m['valid'], res['valid'])
    assert (c_m['n_train'], c_m['n_valid'], c_m['arch']) == (res['n_train'], res['n_valid'], res['arch'])
