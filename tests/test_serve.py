"""`fashion-fastai serve` as a user runs it: a real uvicorn server on 127.0.0.1, talked to over a socket.

Its predictions equal `fashion-fastai predict`, `/similar` equals `fashion-fastai similar`, bad uploads get a 4xx with
a message, and the server keeps serving afterwards."""
import io, json, shutil, socket, struct, subprocess, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest
from conftest import EXE, CPU_ONLY, ROOT, cli, cli_in

httpx = pytest.importorskip('httpx', reason="the service tests need httpx (pip install -e '.[dev]')")
pytest.importorskip('fastapi', reason="the service needs FastAPI (pip install -e '.[serve]')")
from PIL import Image

@pytest.fixture(scope='session')
def served(once):
    "A categories sample, a model trained on it for one epoch, and an index of its images (made once for all workers)"
    def make(d):
        # in this process (`cli_in`): these commands are tested as commands elsewhere; here they only make the fixture
        assert cli_in('sample', d/'data', '--task', 'categories', '--n', '60', '--seed', '3').returncode == 0
        r = cli_in('train', '--data', d/'data', '--size', '32', '--epochs', '1', '--bs', '16', '--workers', '0', '--no-interpret', '--out', d/'model')
        assert r.returncode == 0, r.stderr
        r = cli_in('index', '--model', d/'model', '--images', d/'data'/'img', '--out', d/'index')
        assert r.returncode == 0, r.stderr
    d = once('serve', make)
    return dict(model=d/'model', index=d/'index', images=sorted((d/'data'/'img').rglob('*.jpg')))

def _port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def start(*args, timeout=180):
    "Start `fashion-fastai serve ARGS` on a free port; its base URL and process, once /health answers"
    port = _port()
    p = subprocess.Popen([str(EXE), 'serve', '--port', str(port), '--log-level', 'warning', *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CPU_ONLY)
    url, t = f'http://127.0.0.1:{port}', time.time()
    while time.time() - t < timeout:
        if p.poll() is not None: pytest.fail(f'serve exited with {p.returncode}: {p.stderr.read()[-2000:]}')
        try:
            if httpx.get(url + '/health', timeout=2).status_code == 200: return url, p
        except httpx.TransportError: time.sleep(0.3)
    p.kill(); pytest.fail(f'serve did not answer within {timeout} s')

@pytest.fixture(scope='module')
def server(served):
    url, p = start('--model', served['model'], '--index', served['index'], '--max-mb', '1', '--max-pixels', '1000000')
    yield url
    p.terminate()
    try: p.wait(20)
    except subprocess.TimeoutExpired: p.kill()

def post(url, data=None, files=None, **params):
    return httpx.post(url, content=data, files=files, params=params, timeout=60,
                      headers=None if files else {'content-type': 'application/octet-stream'})

def test_health_describes_the_model_and_index(server, served):
    h = httpx.get(server + '/health').json()
    assert h['status'] == 'ok' and h['task'] == 'categories' and h['index'] == len(served['images'])
    assert h['arch'] == 'tf_efficientnet_lite0' and list(h['classes']) == ['label']

def test_predict_equals_the_predict_command(server, served):
    img = served['images'][0]
    r = post(server + '/predict', files={'file': (img.name, img.read_bytes(), 'image/jpeg')}, top_k=3)
    assert r.status_code == 200, r.text
    got = r.json()['predictions']['label']
    ref = json.loads(cli_in('predict', '--model', served['model'], img, '--top-k', '3').stdout)['label']
    assert got['label'] == ref['label'] and [l for l,_ in got['top_k']] == [l for l,_ in ref['top_k']]
    assert got['prob'] == pytest.approx(ref['prob'], abs=1e-5)
    raw = post(server + '/predict', img.read_bytes(), top_k=3).json()['predictions']['label']     # the raw body
    assert raw == got

def test_two_worker_processes_answer_concurrent_requests_alike(served):
    "`serve --workers 2`: two processes behind one port, each with its own model and one thread; 32 concurrent requests, the same answers"
    url, p = start('--model', served['model'], '--workers', '2', '--max-batch', '4')
    try:
        imgs = [i.read_bytes() for i in served['images'][:8]]
        ref = [post(url + '/predict', b, top_k=3).json()['predictions'] for b in imgs]
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(8) as ex: got = list(ex.map(lambda i: (i, post(url + '/predict', imgs[i % 8], top_k=3)), range(32)))
        assert all(r.status_code == 200 for _,r in got)
        for i,r in got:
            g,e = r.json()['predictions']['label'], ref[i % 8]['label']
            assert g['label'] == e['label'] and g['prob'] == pytest.approx(e['prob'], abs=1e-5)
        import psutil
        kids = psutil.Process(p.pid).children(recursive=True)
        assert len([k for k in kids if 'python' in k.name().lower() or 'fashion' in ' '.join(k.cmdline())]) >= 2, kids
    finally:
        p.terminate()
        try: p.wait(30)
        except subprocess.TimeoutExpired: p.kill()

def test_similar_equals_the_similar_command(server, served, tmp_path):
    img = served['images'][5]
    nb = post(server + '/similar', img.read_bytes(), k=4).json()['neighbours']
    assert len(nb) == 4 and nb[0]['image'] == str(img) and nb[0]['distance'] < 1e-4     # an indexed image finds itself
    ref = json.loads(cli_in('similar', '--index', served['index'], img, '-k', '4', '--sheet', tmp_path/'s.png').stdout)['neighbours']
    assert [n['image'] for n in nb] == [n['image'] for n in ref]
    assert [n['distance'] for n in nb] == pytest.approx([n['distance'] for n in ref], abs=1e-5)

def _png(w, h):
    b = io.BytesIO(); Image.new('RGB', (w, h), 'white').save(b, 'PNG'); return b.getvalue()

BOMB = (b'BM' + struct.pack('<IHHI', 62, 0, 0, 62) + struct.pack('<IiiHHIIiiII', 40, 30_000, 30_000, 1, 24, 0, 0, 0, 0, 0, 0)
        + bytes(8))   # a 62-byte BMP whose header claims 900 megapixels

BAD = {  # name: (body, status, words in the message)
    'empty': (b'', 400, 'empty'),
    'not an image': (b'<html>hello</html>', 415, 'not an image'),
    'truncated jpeg': (None, 400, 'truncated'),
    'too many pixels': (_png(1100, 1000), 413, 'over the limit of 1,000,000 pixels'),
    'decompression bomb header': (BOMB, 413, 'pixels'),
    'body too large': (bytes(1_200_000), 413, 'over this service'),
}

@pytest.mark.parametrize('name', list(BAD))
def test_bad_uploads_get_a_4xx_with_a_message_and_the_server_keeps_serving(server, served, name):
    body, status, words = BAD[name]
    good = served['images'][1].read_bytes()
    if body is None: body = good[:len(good)//2]
    for r in (post(server + '/predict', body), post(server + '/similar', body),
              post(server + '/predict', files={'file': ('x.jpg', body, 'image/jpeg')})):
        assert r.status_code == status, (r.status_code, r.text)
        assert words in r.json()['detail'], r.json()
    assert post(server + '/predict', good).status_code == 200

def test_a_streamed_body_over_the_limit_is_refused(server):
    def chunks():
        for _ in range(20): yield bytes(100_000)      # 2 MB in chunks, no Content-Length
    r = httpx.post(server + '/predict', content=chunks(), timeout=60)
    assert r.status_code == 413 and 'over this service' in r.json()['detail']
    assert httpx.get(server + '/health').status_code == 200

def test_a_form_without_the_file_field_says_what_to_send(server, served):
    r = post(server + '/predict', files={'photo': ('x.jpg', served['images'][0].read_bytes(), 'image/jpeg')})
    assert r.status_code == 400 and "'file'" in r.json()['detail']

def test_concurrent_requests_all_answer(server, served):
    imgs = [p.read_bytes() for p in served['images'][:8]]
    with ThreadPoolExecutor(8) as ex: rs = list(ex.map(lambda b: post(server + '/predict', b), imgs * 2))
    assert [r.status_code for r in rs] == [200]*16
    assert rs[0].json() == rs[8].json()

def test_without_an_index_similar_is_404_and_balance_is_served(served):
    url, p = start('--model', served['model'], '--balance', '0.5')
    try:
        img = served['images'][0]
        r = post(url + '/similar', img.read_bytes())
        assert r.status_code == 404 and '--index' in r.json()['detail']
        h = httpx.get(url + '/health').json()
        assert h['index'] is None and h['balance'] == {'label': 0.5}
        got = post(url + '/predict', img.read_bytes(), top_k=3).json()['predictions']['label']
        ref = json.loads(cli_in('predict', '--model', served['model'], img, '--top-k', '3', '--balance', '0.5').stdout)['label']
        assert [l for l,_ in got['top_k']] == [l for l,_ in ref['top_k']] and got['prob'] == pytest.approx(ref['prob'], abs=1e-5)
    finally: p.kill()

def test_an_index_of_another_model_is_a_one_line_error(served, tmp_path):
    idx = tmp_path/'index'
    idx.mkdir()
    for f in served['index'].iterdir(): (idx/f.name).write_bytes(f.read_bytes())
    meta = json.loads((idx/'index.json').read_text())
    meta['model']['id'] = '0'*16
    (idx/'index.json').write_text(json.dumps(meta))
    r = cli('serve', '--model', served['model'], '--index', idx, '--port', str(_port()))
    assert r.returncode == 2 and 'rebuild the index' in r.stderr and 'Traceback' not in r.stderr, r.stderr


# --- the web page, in a real browser ---
ARTIFACTS = ROOT/'test-artifacts'        # the page's screenshot is kept here (not committed)

def _browser():
    "Headless Chromium driven by selenium, or a skip that says what is missing"
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as ChromeService
    except ImportError: pytest.skip("the browser test needs selenium (pip install -e '.[dev]')")
    chrome,driver = shutil.which('chromium') or '/usr/bin/chromium',shutil.which('chromedriver') or '/usr/bin/chromedriver'
    if not (Path(chrome).exists() and Path(driver).exists()):
        pytest.skip("the browser test needs Debian's chromium and chromium-driver: apt-get update && apt-get install chromium chromium-driver (.ci/run does)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1200,860'): opts.add_argument(a)
    return webdriver.Chrome(service=ChromeService(driver), options=opts)

def test_the_web_page_in_a_real_browser(server, served, tmp_path):
    "Upload through the page: the bars say what /predict says, the similar items are /similar's with their pictures, a refusal shows its message"
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    drv = _browser()
    try:
        drv.get(server + '/')
        wait = WebDriverWait(drv, 60)
        wait.until(lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-ready') == '1')
        assert f"index of {len(served['images'])} images" in drv.find_element(By.ID, 'model').text
        img = served['images'][5]
        drv.find_element(By.ID, 'file').send_keys(str(img))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#similar figure img')) == 8 and
                             all(d.execute_script('return arguments[0].complete && arguments[0].naturalWidth > 0', i)
                                 for i in d.find_elements(By.CSS_SELECTOR, '#similar figure img')))
        ref = post(server + '/predict', files={'file': (img.name, img.read_bytes(), 'image/jpeg')}, top_k=3).json()['predictions']
        rows = drv.find_elements(By.CSS_SELECTOR, '.row')
        shown = [(r.get_attribute('data-head'), r.get_attribute('data-label'), float(r.get_attribute('data-prob')), r.find_element(By.CLASS_NAME, 'p').text)
                 for r in rows]
        assert [(h, l) for h,l,_,_ in shown] == [(h, l) for h,p in ref.items() for l,_ in p['top_k']]
        assert [p for _,_,p,_ in shown] == pytest.approx([p for v in ref.values() for _,p in v['top_k']], abs=1e-9)
        assert [t for *_,t in shown] == [f'{100*p:.1f}%' for v in ref.values() for _,p in v['top_k']]      # the text on the bars
        widths = [float(drv.execute_script('return arguments[0].querySelector(".bar").style.width', r)[:-1]) for r in rows]
        assert widths == pytest.approx([round(100*p, 1) for _,_,p,_ in shown], abs=0.051)
        sim = post(server + '/similar', img.read_bytes(), k=8).json()['neighbours']
        figs = drv.find_elements(By.CSS_SELECTOR, '#similar figure')
        assert [int(f.get_attribute('data-id')) for f in figs] == [n['id'] for n in sim] and sim[0]['image'] == str(img)
        assert figs[0].find_element(By.TAG_NAME, 'figcaption').text == f"{sim[0]['label']} · {sim[0]['distance']:.3f}"
        ARTIFACTS.mkdir(exist_ok=True)
        drv.save_screenshot(str(ARTIFACTS/'web-page.png'))
        bad = tmp_path/'notes.txt'; bad.write_text('not a photo at all')
        drv.find_element(By.ID, 'file').send_keys(str(bad))
        wait.until(lambda d: d.find_element(By.ID, 'error').text)
        detail = post(server + '/predict', bad.read_bytes()).json()['detail']
        assert drv.find_element(By.ID, 'error').text == detail and detail.startswith('The upload (18 bytes)'), detail
        assert not drv.find_elements(By.CSS_SELECTOR, '.row') and not drv.find_element(By.ID, 'similar-card').is_displayed()
        drv.save_screenshot(str(ARTIFACTS/'web-page-refused.png'))
    finally: drv.quit()

def test_the_docs_page_still_works(server):
    r = httpx.get(server + '/docs')
    assert r.status_code == 200 and 'swagger' in r.text.lower()
    assert '/gallery/{item}' in httpx.get(server + '/openapi.json').json()['paths']
