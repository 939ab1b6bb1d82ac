"What a JupyterLab user gets: the venv's Jupyter server starts a python3 kernel that imports deeplog_mc."
import json, os, socket, subprocess, sys, time, uuid
from pathlib import Path

import requests
import websocket


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_jupyter_kernel_imports_the_package(tmp_path):
    port, token = free_port(), uuid.uuid4().hex
    jupyter = Path(sys.executable).parent/'jupyter'
    proc = subprocess.Popen([str(jupyter), 'server', '--no-browser', '--allow-root', f'--port={port}', '--ip=127.0.0.1',
                             f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={Path(__file__).parents[1]}'],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path/'server.log', 'w'))
    base, hdr = f'http://127.0.0.1:{port}', {'Authorization': f'token {token}'}
    try:
        for _ in range(120):
            try:
                if requests.get(f'{base}/api', headers=hdr, timeout=1).ok: break
            except requests.ConnectionError: pass
            time.sleep(0.5)
        else:
            raise AssertionError('Jupyter server did not start:\n' + (tmp_path/'server.log').read_text()[-2000:])
        specs = requests.get(f'{base}/api/kernelspecs', headers=hdr).json()
        assert 'python3' in specs['kernelspecs']
        kid = requests.post(f'{base}/api/kernels', headers=hdr, json={'name': 'python3'}).json()['id']
        ws = websocket.create_connection(f'ws://127.0.0.1:{port}/api/kernels/{kid}/channels?token={token}', timeout=60)
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({'header': {'msg_id': msg_id, 'username': 't', 'session': uuid.uuid4().hex, 'msg_type': 'execute_request', 'version': '5.3'},
                            'parent_header': {}, 'metadata': {}, 'channel': 'shell',
                            'content': {'code': 'import deeplog_mc, deeplog_mc.stages, deeplog_mc.runner\nprint(deeplog_mc.__file__, deeplog_mc.__version__)',
                                        'silent': False, 'store_history': False, 'user_expressions': {}, 'allow_stdin': False}}))
        out, status = '', None
        deadline = time.time() + 90
        while time.time() < deadline and status is None:
            m = json.loads(ws.recv())
            if m.get('parent_header', {}).get('msg_id') != msg_id: continue
            if m['msg_type'] == 'stream': out += m['content']['text']
            if m['msg_type'] == 'error': out += '\n'.join(m['content']['traceback'])
            if m['msg_type'] == 'execute_reply': status = m['content']['status']
        ws.close()
        requests.delete(f'{base}/api/kernels/{kid}', headers=hdr)
        assert status == 'ok', out
        assert 'deeplog_mc/__init__.py' in out, out
    finally:
        proc.terminate(); proc.wait(timeout=30)
