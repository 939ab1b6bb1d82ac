"""Bad input: each case gets one DataError naming the file, the line where there is one, and what was expected;
random bytes and random session lines fed to every reader raise nothing but DataError."""
import os, shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from deeplog_mc.core import DataError
from deeplog_mc.sessions import MAX_LINE_BYTES, read_labels, read_session_csv, read_session_file, read_templates
from deeplog_mc.specs import read_spec
from deeplog_mc.clustering import AnomalyClusterer
from deeplog_mc.detector import DeepLog

READERS = {'sessions': read_session_file, 'sessions.csv': lambda p: read_session_csv(p, 'session_id'),
           'labels.csv': read_labels, 'templates.csv': read_templates, 'spec.yaml': read_spec}

# (reader, file content, the words the one-line error must hold after "<file>[, line N]: ")
CASES = [
    ('sessions', b'', ': expected at least one session'),
    ('sessions', b'1 2 3\n\xff\xfe 4\n', ', line 2: expected UTF-8 text'),
    ('sessions', b'\x00\x9c\xffPK\x03\x04', ', line 1: expected UTF-8 text'),
    ('sessions', b'1 2 three\n', ', line 1: expected space-separated integer keys'),
    ('sessions', b's1,\n', ', line 1: expected at least one key in the session'),
    ('sessions', b'1\n' + b'2 ' * MAX_LINE_BYTES, ', line 2: expected lines of at most 1,048,576 bytes'),
    ('sessions.csv', b'', ': expected a header with columns'),
    ('sessions.csv', b'session_id,keys\n', ': expected at least one session'),
    ('sessions.csv', b'id,keys\na,1 2\n', ", line 1: expected columns ['session_id', 'keys'] in the header"),
    ('sessions.csv', b'session_id,keys\na,\n', ", line 2: expected at least one key in column 'keys'"),
    ('sessions.csv', b'session_id,keys\na,1 x\n', ", line 2: expected space-separated integer keys"),
    ('sessions.csv', b'session_id,keys\na,1 2\n\xff,3\n', ', line 3: expected UTF-8 text'),
    ('sessions.csv', b'session_id,keys\na,' + b'1 ' * MAX_LINE_BYTES, ', line 2: expected a CSV file'),
    ('labels.csv', b'session_id,label\na,maybe\n', ', line 2: expected label to be 0/1 or Normal/Anomaly'),
    ('templates.csv', b'EventId,EventTemplate\nX1,hello\n', ', line 2: expected EventId like E5'),
    ('spec.yaml', b'name: x\ncolour: red\n', ': expected only the fields'),
    ('spec.yaml', b'name: [1, 2]\n', ': expected name: a str'),
    ('spec.yaml', b'train_fraction: half\n', ': expected train_fraction: a int or float'),
    ('spec.yaml', b'name: x\n  : : [\n', ': expected valid YAML'),
    ('spec.yaml', b'\xff\xfe\x00', ': expected UTF-8 text'),
]


@pytest.mark.parametrize('reader,content,expected', CASES, ids=[f'{r}-{i}' for i, (r, _, _) in enumerate(CASES)])
def test_bad_input_gets_one_clear_error(tmp_path, reader, content, expected):
    path = tmp_path/f'input.{reader.split(".")[-1]}'; path.write_bytes(content)
    with pytest.raises(DataError) as e: READERS[reader](path)
    msg = str(e.value)
    assert msg.startswith(f'{path}{expected}'), msg
    assert '\n' not in msg and len(msg) < 400, msg


@pytest.mark.parametrize('reader', list(READERS))
def test_a_path_that_does_not_exist(tmp_path, reader):
    with pytest.raises(DataError, match=r'nowhere.*: expected .*got .no such file'): READERS[reader](tmp_path/'nowhere')


def test_a_truncated_or_foreign_model_file(tmp_path, synthetic_run):
    run = synthetic_run('truncated', 120, 40, 5, base_epochs=2, until='clusters')
    bad = tmp_path/'run'; shutil.copytree(run, bad)
    pt = bad/'models'/'base_model.pt'; pt.write_bytes(pt.read_bytes()[:200])
    with pytest.raises(DataError, match=r'base_model\.pt: expected'): DeepLog.load(pt)
    (bad/'models'/'cluster_model.json').write_text('{"format": "some-other-tool/1"}')
    with pytest.raises(DataError, match=r'cluster_model\.json: expected'): AnomalyClusterer.load(bad/'models'/'cluster_model')


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
session_line = st.lists(st.one_of(st.integers(-3, 10**6).map(str), st.sampled_from(['', ',', 'x', ' ', '1.5', '\t'])),
                        max_size=12).map(' '.join)


def _read_or_data_error(reader, path):
    try: READERS[reader](path)
    except DataError: pass


@FUZZ
@given(data=st.binary(max_size=2000), reader=st.sampled_from(list(READERS)))
def test_random_bytes_raise_nothing_but_data_error(tmp_path, data, reader):
    p = tmp_path/'fuzz'; p.write_bytes(data); _read_or_data_error(reader, p)


@FUZZ
@given(lines=st.lists(session_line, max_size=20), reader=st.sampled_from(['sessions', 'sessions.csv']))
def test_random_session_lines_raise_nothing_but_data_error(tmp_path, lines, reader):
    head = 'session_id,keys\n' if reader == 'sessions.csv' else ''
    p = tmp_path/'fuzz'; p.write_text(head + '\n'.join(f'{i},{l}' if reader == 'sessions.csv' else l
                                                       for i, l in enumerate(lines)) + '\n')
    _read_or_data_error(reader, p)


def test_a_described_labels_or_types_file_gives_each_session_one_row(tmp_path):
    "A row repeated as it is is harmless; an id given two different rows is refused at the second, with its line."
    from deeplog_mc.specs import labels_table, types_table
    (tmp_path/'l.csv').write_text('id,label,type\na,1,disk\nb,0,\na,1,disk\nb,1,net\n')
    with pytest.raises(DataError, match=r"l\.csv, line 5: expected one row per session id, got \"'b' again"):
        labels_table({'labels': {'path': 'l.csv', 'id': 'id', 'label': 'label'}}, tmp_path, 'svc')
    (tmp_path/'t.csv').write_text('BlockId,TypeName\nx,disk\nx,disk\n')
    assert types_table({'types': {'path': 't.csv', 'id': 'BlockId', 'type': 'TypeName'}}, tmp_path, 'svc').shape == (1, 2)
    with pytest.raises(DataError, match=r"t\.csv, line 1: expected a 'Type' column"):
        types_table({'types': {'path': 't.csv', 'id': 'BlockId', 'type': 'Type'}}, tmp_path, 'svc')
