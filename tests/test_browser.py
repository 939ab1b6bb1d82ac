"""What people see in a real browser: a run's report.html, and a stage notebook run in JupyterLab (headless Chromium).

Chromium and its WebDriver are Debian packages (`make browser` installs them); without them these tests fail."""
import json, shutil, socket, subprocess, sys, time, uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

STAGE_TITLES = ['Stage 00: data', 'Stage 01: the base model', 'Stage 02: deviation features', 'Stage 03: anomaly types',
                'Stage 04: the classifier']
REPORT_FIGURES = 8      # data, detection, workflows, k curve, type profile, type confusion, type map, classifier


@pytest.fixture
def chrome():
    "A headless Chromium driven through WebDriver."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    binary, driver = shutil.which('chromium'), shutil.which('chromedriver')
    if not (binary and driver):
        pytest.fail('headless Chromium is missing: `make browser` installs it (apt-get install chromium chromium-driver)',
                    pytrace=False)
    opts = webdriver.ChromeOptions(); opts.binary_location = binary
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,1000'):
        opts.add_argument(a)
    d = webdriver.Chrome(options=opts, service=Service(driver))
    yield d
    d.quit()


def shows_something(png:Path, rect:dict) -> bool:
    "Whether the part `rect` (CSS pixels) of a screenshot has content: not one flat colour."
    img = np.asarray(Image.open(png).convert('L'), dtype=float)
    y, x = int(rect['y']), int(rect['x'])
    crop = img[max(y, 0):y + int(rect['height']), max(x, 0):x + int(rect['width'])]
    return crop.size > 0 and crop.std() > 10


def test_the_report_shows_its_summary_figures_and_type_cards_without_code(quick_pipeline, chrome, tmp_path):
    from selenium.webdriver.common.by import By
    html = (quick_pipeline/'report.html').read_text()
    assert '<script src=' not in html                              # one self-contained file: nothing fetched
    chrome.get((quick_pipeline/'report.html').as_uri())
    images = chrome.execute_script('return [...document.images].map(i => [i.complete, i.naturalWidth])')
    assert len(images) == REPORT_FIGURES and all(ok and w > 0 for ok, w in images), images
    summary = chrome.find_element(By.ID, 'summary')
    tables = summary.find_elements(By.TAG_NAME, 'table')
    assert summary.is_displayed() and len(tables) == 3              # overview, types vs true types, classifier
    first = tables[0].rect
    assert 0 <= first['y'] and first['y'] + 100 < 1000 and first['height'] > 100   # visible on opening the page
    chrome.save_screenshot(str(tmp_path/'report.png'))
    assert shows_something(tmp_path/'report.png', first)
    text = chrome.find_element(By.TAG_NAME, 'body').text
    for needed in ['Summary', 'anomaly types found', 'Anomaly types against the true types (test)', *STAGE_TITLES]:
        assert needed in text, needed
    cards = (quick_pipeline/'models'/'type_cards.md').read_text()
    names = [l[4:].strip() for l in cards.splitlines() if l.startswith('### Type ')]
    k = json.loads((quick_pipeline/'metrics.json').read_text())['typing']['k']
    assert len(names) == k > 0 and all(n in text for n in names)    # one card per type
    assert not chrome.find_elements(By.CSS_SELECTOR, '.jp-CodeCell .jp-InputArea')   # code cells show outputs only
    for code in ('from deeplog_mc', 'import ', 'def row(', '#| export', '"detection": {'):
        assert code not in text, code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_jupyterlab_runs_a_stage_notebook_in_chromium(chrome, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    shutil.copy(Path(__file__).parents[1]/'nbs'/'stages'/'00_data.ipynb', tmp_path)   # a copy: the checkout stays clean
    port, token = free_port(), uuid.uuid4().hex
    lab = subprocess.Popen([str(Path(sys.executable).parent/'jupyter'), 'lab', '--no-browser', '--allow-root',
                            f'--port={port}', '--ip=127.0.0.1', f'--IdentityProvider.token={token}',
                            f'--ServerApp.root_dir={tmp_path}'],
                           stdout=subprocess.DEVNULL, stderr=open(tmp_path/'lab.log', 'w'))
    try:
        wait = WebDriverWait(chrome, 120)
        for _ in range(120):                                        # until the server answers
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
            except OSError: time.sleep(0.5)
        chrome.get(f'http://127.0.0.1:{port}/lab/tree/00_data.ipynb?token={token}')
        status = "const e = document.querySelector('.jp-Notebook-ExecutionIndicator'); return e && e.dataset.status"
        wait.until(lambda d: d.execute_script(status) == 'idle')    # the kernel started
        chrome.find_element(By.XPATH, "//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='Run']").click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "li[data-command='runmenu:run-all']")).click()
        prompts = "return [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent)"
        WebDriverWait(chrome, 300).until(lambda d: all(p.strip() not in ('', '[ ]:', '[*]:') for p in d.execute_script(prompts))
                                         and d.execute_script(status) == 'idle')
        errors = chrome.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert not errors, errors[0].text[-2000:]
        figure = chrome.find_element(By.CSS_SELECTOR, '.jp-OutputArea-output img')
        table = chrome.find_element(By.CSS_SELECTOR, '.jp-OutputArea-output table')
        assert 'anomalous' in table.text and 'normal' in table.text  # the sessions per split and label
        chrome.execute_script('arguments[0].scrollIntoView({block: "center"})', figure)
        chrome.save_screenshot(str(tmp_path/'lab.png'))
        assert figure.size['width'] > 200 and shows_something(tmp_path/'lab.png', figure.rect)
    finally:
        lab.terminate(); lab.wait(timeout=30)
