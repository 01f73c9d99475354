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
    for f in (attrs/'split').glob('*_bbox.txt'): f.unlink()
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
