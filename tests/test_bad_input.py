"Every broken dataset the readers know of raises its documented error, naming the file (and line) and what to do."
import shutil, warnings, pytest
from pathlib import Path
from fashion_fastai.datasets import *
from fashion_fastai.sample import make_sample

@pytest.fixture(scope='module')
def attrs_src(tmp_path_factory): return make_sample(tmp_path_factory.mktemp('a')/'FashionDataset', n=20, seed=0)

@pytest.fixture(scope='module')
def cats_src(tmp_path_factory): return make_sample(tmp_path_factory.mktemp('c')/'bench', task='categories', n=20, seed=0)

@pytest.fixture
def attrs(attrs_src, tmp_path): return Path(shutil.copytree(attrs_src, tmp_path/'FashionDataset'))

@pytest.fixture
def cats(cats_src, tmp_path): return Path(shutil.copytree(cats_src, tmp_path/'bench'))

def edit(fn, f):
    "Rewrite the lines of `fn` through `f`"
    lines = fn.read_text().splitlines()
    fn.write_text('\n'.join(f(lines)) + '\n')

def test_the_samples_read_cleanly(attrs, cats):
    assert len(read_attributes(attrs)) == 20 and len(read_categories(cats)) == 20

# --- attribute challenge ---
@pytest.mark.parametrize('fn', ['split/list_attr_cloth.txt', 'split/train_attr.txt'])
def test_missing_file_names_the_expected_path(attrs, fn):
    (attrs/fn).unlink()
    with pytest.raises(MissingFileError, match=fn.split('/')[-1]) as e: read_attributes(attrs)
    assert str(attrs) in str(e.value)

def test_no_split_lists(attrs):
    for s in ('train', 'val', 'test'): (attrs/'split'/f'{s}.txt').unlink()
    with pytest.raises(MissingFileError, match='train.txt'): read_attributes(attrs)

def test_row_count_mismatch_names_both_files_and_counts(attrs):
    edit(attrs/'split'/'train_attr.txt', lambda l: l[:-2])
    with pytest.raises(AnnotationError, match=r'train_attr.txt has 12 rows but train.txt lists 14 images'): read_attributes(attrs)

def test_label_out_of_range_gives_file_and_line(attrs):
    edit(attrs/'split'/'val_attr.txt', lambda l: l[:2] + ['0 0 0 4 0 0'] + l[3:])
    with pytest.raises(AnnotationError, match=r'val_attr.txt, line 3: neckline label 4 is out of range'): read_attributes(attrs)

@pytest.mark.parametrize('line,msg', [('5 0 2 0 2', 'expected 6 values, found 5'), ('5 0 2 x 2 1', "expected integers, found 'x'"),
                                      ('5 0 2 0 2 1 1', 'expected 6 values, found 7')])
def test_malformed_line_gives_file_and_line(attrs, line, msg):
    edit(attrs/'split'/'train_attr.txt', lambda l: l[:4] + [line] + l[5:])
    with pytest.raises(AnnotationError, match=rf'train_attr.txt, line 5: {msg}'): read_attributes(attrs)

def test_malformed_bbox(attrs):
    edit(attrs/'split'/'train_bbox.txt', lambda l: l[:1] + ['062 062 165'] + l[2:])
    with pytest.raises(AnnotationError, match='train_bbox.txt, line 2: expected 4 values, found 3'): read_attributes(attrs)

def test_bad_attribute_type(attrs):
    edit(attrs/'split'/'list_attr_cloth.txt', lambda l: l[:3] + ['graphic 7'] + l[4:])
    with pytest.raises(AnnotationError, match='list_attr_cloth.txt, line 4'): read_attributes(attrs)

def test_missing_images_counted_with_first_paths(attrs):
    for i in range(7): (attrs/'img'/f'{i:05d}.jpg').unlink()
    with pytest.raises(MissingImagesError, match=r'7 of 20 images .* missing on disk, e.g. .*00000.jpg') as e: read_attributes(attrs)
    assert len(e.value.missing) == 7 and str(e.value).count('.jpg') == 5
    with pytest.warns(UserWarning, match='Skipped 7 of 20 images'): assert len(read_attributes(attrs, missing='skip')) == 13

def test_header_lines_crlf_and_trailing_blanks_are_accepted(attrs):
    before = read_attributes(attrs)
    edit(attrs/'split'/'train.txt', lambda l: ['picture_filename'] + l)
    edit(attrs/'split'/'train_attr.txt', lambda l: ['category1 category2 category3 category4 category5 category6'] + l)
    fn = attrs/'split'/'val_attr.txt'
    fn.write_bytes(fn.read_bytes().replace(b'\n', b'\r\n') + b'\r\n\r\n')
    assert read_attributes(attrs).equals(before)

def test_blank_line_inside_a_file(attrs):
    edit(attrs/'split'/'train_attr.txt', lambda l: l[:3] + [''] + l[3:-1])
    with pytest.raises(AnnotationError, match='train_attr.txt, line 4: blank line'): read_attributes(attrs)

def test_empty_dataset(attrs):
    for s in ('train', 'val', 'test'): (attrs/'split'/f'{s}.txt').write_text('')
    for s in ('train', 'val'): (attrs/'split'/f'{s}_attr.txt').write_text('')
    for f in [*(attrs/'split').glob('*_bbox.txt'), *(attrs/'split').glob('*_landmards.txt')]: f.unlink()
    with pytest.raises(EmptyDatasetError, match='No images found'): read_attributes(attrs)

# --- category benchmark ---
def test_category_label_out_of_range(cats):
    edit(cats/'Anno'/'list_category_img.txt', lambda l: l[:4] + [l[4].rsplit(' ', 1)[0] + ' 51'] + l[5:])
    with pytest.raises(AnnotationError, match=r"list_category_img.txt, line 5: category label '51' is not an integer from 1 to 50"): read_categories(cats)

def test_category_label_zero_is_out_of_range_because_labels_are_1_based(cats):
    edit(cats/'Anno'/'list_category_img.txt', lambda l: l[:2] + [l[2].rsplit(' ', 1)[0] + ' 0'] + l[3:])
    with pytest.raises(AnnotationError, match='line 3: .*1-based'): read_categories(cats)

def test_truncated_counted_file(cats):
    edit(cats/'Anno'/'list_category_img.txt', lambda l: l[:-3])
    with pytest.raises(AnnotationError, match='list_category_img.txt, line 1: the file says 20 rows but has 17'): read_categories(cats)

def test_unknown_split_name(cats):
    edit(cats/'Eval'/'list_eval_partition.txt', lambda l: l[:2] + [l[2].rsplit(' ', 1)[0] + ' dev'] + l[3:])
    with pytest.raises(AnnotationError, match="list_eval_partition.txt, line 3: split 'dev'"): read_categories(cats)

def test_missing_category_list(cats):
    (cats/'Anno'/'list_category_cloth.txt').unlink()
    with pytest.raises(MissingFileError, match='list_category_cloth.txt'): read_categories(cats)

def test_category_images_missing(cats):
    shutil.rmtree(next((cats/'img').iterdir()))
    with pytest.raises(MissingImagesError, match='of 20 images listed in .*list_category_img.txt'): read_categories(cats)

# --- own photos ---
def test_empty_folder(tmp_path):
    (tmp_path/'train'/'hat').mkdir(parents=True)
    with pytest.raises(EmptyDatasetError): read_folder(tmp_path)

def test_csv_missing_image_and_bad_split(tmp_path):
    from PIL import Image
    Image.new('RGB', (8, 8)).save(tmp_path/'a.jpg')
    (tmp_path/'l.csv').write_text('fname,label\na.jpg,hat\nb.jpg,shoe\n')
    with pytest.raises(MissingImagesError, match='1 of 2 images'): read_csv_labels(tmp_path/'l.csv')
    (tmp_path/'l.csv').write_text('fname,label,split\na.jpg,hat,train\na.jpg,hat,dev\n')
    with pytest.raises(AnnotationError, match="l.csv, line 3: split 'dev'"): read_csv_labels(tmp_path/'l.csv')

def test_unknown_layout(tmp_path):
    (tmp_path/'notes.txt').write_text('hello')
    with pytest.raises(DatasetError, match='Cannot tell what kind of dataset'): read_dataset(tmp_path)

# --- images: every odd or broken kind, through training, evaluation, prediction and the service ---
import io, json, struct
import numpy as np
from PIL import Image
from conftest import cli

def _bomb_bytes(w=20000, h=12000):
    "A 62-byte BMP whose header claims w×h pixels (240 megapixels by default)"
    return b'BM' + struct.pack('<IHHI', 62, 0, 0, 54) + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 24, 0, 0, 0, 0, 0, 0) + b'\0'*8

def odd_images(d, colour=(200, 40, 40), seed=0):
    "name → path of every image kind the issue lists, in folder `d`: the first seven can be read, the last four cannot"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((48, 40, 3)) * 60 + np.array(colour) * 0.7).astype(np.uint8))
    out = {}
    def save(name, im, **kw): im.save(d/name, **kw); out[name] = d/name
    save('cmyk.jpg', base.convert('CMYK'), quality=90)
    save('gray16.png', Image.fromarray((np.asarray(base.convert('L'), dtype=np.uint16) * 257)))
    rgba = base.convert('RGBA'); rgba.putalpha(Image.new('L', base.size, 255).point(lambda v: v)); a = np.asarray(rgba).copy(); a[:, :8, 3] = 0
    save('rgba.png', Image.fromarray(a, 'RGBA'))
    save('palette.png', base.convert('P', palette=Image.ADAPTIVE, colors=16))
    save('gray.jpg', base.convert('L'), quality=90)
    save('tiny.png', Image.new('RGB', (1, 1), colour))
    save('plain.jpg', base, quality=90)
    good = (d/'plain.jpg').read_bytes()
    (d/'truncated.jpg').write_bytes(good[:len(good)//3]); out['truncated.jpg'] = d/'truncated.jpg'
    (d/'empty.jpg').write_bytes(b''); out['empty.jpg'] = d/'empty.jpg'
    (d/'text.jpg').write_text('this is not a JPEG'); out['text.jpg'] = d/'text.jpg'
    (d/'bomb.bmp').write_bytes(_bomb_bytes()); out['bomb.bmp'] = d/'bomb.bmp'
    return out

READABLE = ['cmyk.jpg', 'gray16.png', 'rgba.png', 'palette.png', 'gray.jpg', 'tiny.png', 'plain.jpg']
BROKEN = {'truncated.jpg': 'truncated or corrupt', 'empty.jpg': 'not an image', 'text.jpg': 'not an image',
          'bomb.bmp': 'over the limit of 100,000,000 pixels'}

def test_16bit_is_scaled_not_clipped(tmp_path):
    from fashion_fastai.datasets import open_image
    v = np.arange(40*48, dtype=np.uint16).reshape(48, 40) % 256
    Image.fromarray(v.astype(np.uint8)).save(tmp_path/'g8.png'); Image.fromarray(v * 257).save(tmp_path/'g16.png')
    assert np.array_equal(np.asarray(open_image(tmp_path/'g8.png')), np.asarray(open_image(tmp_path/'g16.png')))

@pytest.fixture(scope='module')
def odd_run(tmp_path_factory):
    "A two-class own-photos dataset whose train and valid folders hold every odd and broken image, and a model trained on it"
    d = tmp_path_factory.mktemp('odd')
    for split in ('train', 'valid'):
        for c,colour in (('red', (200, 40, 40)), ('blue', (40, 40, 200))):
            for i in range(6 if split == 'train' else 3):
                rng = np.random.default_rng(i)
                Image.fromarray((rng.random((48, 40, 3)) * 60 + np.array(colour) * 0.7).astype(np.uint8)).save(d/'data'/split/c/f'{i}.jpg') \
                    if (d/'data'/split/c).mkdir(parents=True, exist_ok=True) is None else None
        odd_images(d/'data'/split/'red', seed=1)
    r = cli('train', '--data', d/'data', '--size', '64', '--epochs', '1', '--freeze-epochs', '0', '--bs', '8', '--workers', '0', '--out', d/'model')
    return dict(dir=d, data=d/'data', model=d/'model', train=r)

def test_training_leaves_out_unreadable_images_and_counts_them(odd_run):
    r = odd_run['train']
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    per_split = 2*6 + len(READABLE), 2*3 + len(READABLE)        # good images + the readable odd ones
    assert (m['n_train'], m['n_valid']) == per_split
    assert f'Left out {2*len(BROKEN)} of {sum(per_split) + 2*len(BROKEN)} images that cannot be read' in r.stderr
    assert sum(n in r.stderr for n in BROKEN) == 3 and 'Traceback' not in r.stderr     # the first three named

def test_evaluation_counts_unreadable_images(odd_run):
    r = cli('evaluate', '--model', odd_run['model'], '--data', odd_run['data'], '--split', 'valid')
    assert r.returncode == 0, r.stderr
    e = json.loads(r.stdout)
    assert e['unreadable'] == len(BROKEN) and e['n'] == 2*3 + len(READABLE)
    assert sorted(Path(p).name for p in e['unreadable_images']) == sorted(BROKEN)

def test_prediction_reads_odd_images_and_reports_broken_ones(odd_run, tmp_path):
    imgs = odd_images(tmp_path/'q')
    r = cli('predict', '--model', odd_run['model'], *[imgs[n] for n in READABLE + list(BROKEN)], tmp_path/'missing.jpg')
    assert r.returncode == 1 and '5 of 12 image(s) could not be read' in r.stderr
    res = [json.loads(l) for l in r.stdout.splitlines()]
    for n,x in zip(READABLE, res): assert 'label' in x and 'error' not in x, (n, x)
    for (n,msg),x in zip(BROKEN.items(), res[len(READABLE):]): assert msg in x['error'] and n in x['error'], (n, x)
    assert 'no such file' in res[-1]['error']

def test_the_service_answers_each_kind(odd_run, tmp_path):
    pytest.importorskip('fastapi'); pytest.importorskip('httpx')
    from starlette.testclient import TestClient
    from fashion_fastai.serve import Service, create_app
    from fashion_fastai.inference import Predictor
    imgs = odd_images(tmp_path/'q')
    client = TestClient(create_app(Service(odd_run['model'])))
    pred = Predictor(odd_run['model'])
    for n in READABLE:                        # converted as `predict` converts them: the same probabilities
        r = client.post('/predict', content=imgs[n].read_bytes())
        assert r.status_code == 200, (n, r.text)
        got, want = r.json()['predictions']['label'], pred.predict([imgs[n]])[0]['label']
        assert got['label'] == want['label'] and abs(got['prob'] - want['prob']) < 1e-5, n
    for n,code in [('truncated.jpg', 400), ('empty.jpg', 400), ('text.jpg', 415), ('bomb.bmp', 413)]:
        r = client.post('/predict', content=imgs[n].read_bytes())
        assert r.status_code == code and r.json()['detail'], (n, r.status_code, r.text)
    assert client.post('/predict', content=imgs['plain.jpg'].read_bytes()).status_code == 200     # and it goes on serving

def test_a_listed_image_missing_on_disk_in_training_and_evaluation(odd_run, tmp_path):
    ds = Path(shutil.copytree(odd_run['data'], tmp_path/'data'))
    (tmp_path/'l.csv').write_text('fname,label,split\n' + ''.join(f'{p.relative_to(tmp_path)},{p.parent.name},{p.parent.parent.name}\n'
                                  for p in sorted(ds.rglob('*.jpg')) if p.name[0].isdigit()) + 'data/train/red/gone.jpg,red,train\n')
    for args in (['train', '--data', tmp_path/'l.csv', '--size', '64', '--epochs', '1', '--out', tmp_path/'m'],
                 ['evaluate', '--model', odd_run['model'], '--data', tmp_path/'l.csv', '--split', 'valid']):
        r = cli(*args)
        assert r.returncode == 2 and '1 of' in r.stderr and 'gone.jpg' in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_a_full_disk_while_checkpointing_says_so_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    "torch's writer fails with `unexpected pos` when the disk fills: the error names the folder, and the last checkpoint stays whole"
    import torch
    from fashion_fastai.sample import sample_path
    from fashion_fastai.data import fashion_dls
    from fashion_fastai.learner import fashion_learner
    from fashion_fastai.checkpoint import Checkpoint, read_checkpoint
    from fashion_fastai.datasets import read_dataset
    dls = fashion_dls(read_dataset(sample_path('attributes')).iloc[:96], bs=32, size=32, num_workers=0)   # what is tested is the saving
    real_save, calls = torch.save, []
    def save(obj, f, *a, **k):              # epoch 0 writes its weights and random states; epoch 1's weights hit a full disk
        calls.append(f); real_save(obj, f, *a, **k)
        if len(calls) == 3: raise RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos 93447232 vs 93447120')
    monkeypatch.setattr(torch, 'save', save)
    with pytest.raises(OSError, match=r'Could not write the checkpoint of epoch 1 to .*unexpected pos.*Free some space there; '
                                      r'.*checkpoint.json still names the previous epoch'):
        fashion_learner(dls, path=tmp_path).fit(2, 1e-3, cbs=Checkpoint())
    monkeypatch.undo()
    st = json.loads((tmp_path/'models/checkpoint.json').read_text())
    assert st['epoch'] == 0
    assert sorted(p.name for p in (tmp_path/'models').iterdir()) == sorted(['checkpoint.json', f"{st['file']}.pth", f"{st['file']}.rng"])
    assert read_checkpoint(fashion_learner(dls, path=tmp_path))['epoch'] == 0
