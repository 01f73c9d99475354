"The `fashion-fastai` command, run as a user runs it: in a subprocess."
import json, subprocess, sys, pytest
from pathlib import Path

EXE = Path(sys.executable).parent/'fashion-fastai'   # the installed console script

def run(*args):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600)

def test_sample_then_show_batch(tmp_path):
    r = run('sample', tmp_path/'s', '--task', 'categories', '--n', '40', '--seed', '3')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['layout'] == 'categories' and info['n'] == 40 and sum(info['splits'].values()) == 40
    r = run('show-batch', '--data', tmp_path/'s', '--size', '64', '--bs', '4', '--max-n', '4', '--out', tmp_path/'b.png', '--crop-bbox')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['task'] == 'categories' and info['batch'] == [4, 3, 64, 64] and info['classes'] == {'label': 50}
    assert (tmp_path/'b.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

def test_show_batch_defaults_to_the_embedded_sample(tmp_path):
    r = run('show-batch', '--size', '64', '--bs', '4', '--max-n', '2', '--out', tmp_path/'b.png')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['task'] == 'attributes' and info['classes'] == dict(pattern=7, sleeve=3, length=3, neckline=4, fabric=6, fit=3)
    assert info['n_train'] == 490 and info['n_valid'] == 105

@pytest.mark.parametrize('args,msg', [
    (['show-batch', '--data', 'no/such/folder'], 'Expected file not found: no/such/folder'),
    (['sample', 'x', '--n', '3'], 'n must be at least 10'),
])
def test_errors_are_one_line(tmp_path, args, msg):
    r = run(*args)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr
