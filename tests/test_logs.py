"Raw logs: parsing with Drain3, sessions, dataset YAML files, malformed lines, unseen templates."


def load_yaml_spec(tmp_path, spec_dict, name='spec.yaml'):
    "Write a data set description as a YAML file beside the data and load it, as a user would."
    (tmp_path/name).write_text(yaml.safe_dump({k: v for k, v in spec_dict.items() if not k.startswith('_')}))
    return load_spec(tmp_path/name, root=tmp_path)
from pathlib import Path

import numpy as np
import pytest
import yaml

from deeplog_mc.core import DataError
from deeplog_mc.datasets import load_dataset
from deeplog_mc.logs import UNSEEN_KEY, LogParser, format_regex, grouping_accuracy, read_log_lines, sessions_by_window
from deeplog_mc.run import load_sessions
from deeplog_mc.sessions import UNK
from deeplog_mc.specs import BUILTIN_SPECS, check_grouping, load_spec
from deeplog_mc.stages import prepare_data

FMT = '<Date> <Time> <Level> <Component>: <Content>'


def app_log(d: Path, bad=True):
    lines = [f'2024-01-01 10:00:{i:02d} INFO svc: open session req-{i % 6} from 10.0.0.{i}' for i in range(12)]
    lines += [f'2024-01-01 10:01:{i:02d} INFO svc: read 4096 bytes for req-{i % 6}' for i in range(12)]
    if bad: lines.insert(5, '### a line that fits no format ###')
    lines += [f'2024-01-01 10:02:{i:02d} INFO svc: close session req-{i % 6} after {i} ms' for i in range(12)]
    lines += ['2024-01-01 10:03:00 ERROR svc: disk quota exceeded for req-5']
    (d/'app.log').write_text('\n'.join(lines) + '\n')
    (d/'labels.csv').write_text('session_id,label,type\n' + ''.join(f'req-{i},{int(i == 5)},{"quota" if i == 5 else ""}\n' for i in range(6)))


def spec(**kw):
    return {'name': 'app', 'sources': [{'path': './app.log', 'format': 'raw', 'role': 'all'}], 'log_format': FMT,
            'session': {'by': 'id', 'pattern': r'req-\d+'}, 'labels': {'path': './labels.csv', 'id': 'session_id', 'label': 'label', 'type': 'type'},
            'train_fraction': 0.5, **kw}


def test_raw_yaml_with_sessions_by_id_and_a_malformed_line(tmp_path):
    app_log(tmp_path)
    (tmp_path/'app.yaml').write_text(yaml.safe_dump(spec()))
    ds, parser, rep = load_spec(tmp_path/'app.yaml', root=tmp_path)
    assert rep['sources'][0]['malformed'] == 1 and rep['sources'][0]['malformed_examples'][0]['line'] == 6
    s = ds.sessions.set_index('session_id')
    assert len(s) == 6 and s.loc['req-5', 'label'] == 1 and s.loc['req-5', 'type'] == 'quota'
    assert len(s.loc['req-5', 'events']) == 7 and len(parser.templates_) == 4
    assert set(ds.sessions.source) == {'train', 'heldout'} and (ds.sessions.label[ds.sessions.source == 'train'] == 0).all()


def test_yaml_through_stage_00(tmp_path):
    app_log(tmp_path, bad=False)
    more = '\n'.join(f'2024-01-01 11:00:{i:02d} INFO svc: open session req-{i} from 10.0.0.1\n2024-01-01 11:00:{i:02d} INFO svc: close session req-{i} after 3 ms'
                     for i in range(6, 30)) + '\n'
    (tmp_path/'app.log').write_text((tmp_path/'app.log').read_text() + more)
    (tmp_path/'labels.csv').write_text((tmp_path/'labels.csv').read_text() + ''.join(f'req-{i},{int(i % 7 == 0)},\n' for i in range(6, 30)))
    (tmp_path/'app.yaml').write_text(yaml.safe_dump(spec()))
    df, vocab = prepare_data(tmp_path/'run', dataset=str(tmp_path/'app.yaml'), data_root=tmp_path)
    assert (tmp_path/'run'/'data'/'parser.json').is_file()
    back, v, meta = load_sessions(tmp_path/'run')
    assert set(back.split) == {'train', 'val', 'fit', 'test'}


def test_structured_csv_and_session_files_and_session_csv(tmp_path):
    (tmp_path/'s_structured.csv').write_text('LineId,Content,EventId,EventTemplate\n1,open a,E1,open <*>\n2,open b,E1,open <*>\n3,close a,E2,close <*>\n4,close b,E2,close <*>\n')
    ds, parser, _ = load_yaml_spec(tmp_path, {'name': 'st', 'sources': [{'path': './s_structured.csv', 'format': 'structured', 'role': 'all'}],
                                              'session': {'by': 'id', 'pattern': r'\b[ab]\b'}})
    assert parser is None and sorted(ds.sessions.events.map(list).tolist()) == [[1, 2], [1, 2]]
    (tmp_path/'train').write_text('s1,1 2 3\ns2,1 2\n'); (tmp_path/'abn.csv').write_text('id,keys,kind\nx1,1 9,bad\n')
    ds, _, _ = load_yaml_spec(tmp_path, {'name': 'sf', 'sources': [{'path': './train', 'format': 'sessions', 'role': 'train'},
                                                                   {'path': './abn.csv', 'format': 'sessions_csv', 'id': 'id', 'type': 'kind', 'label': 1, 'role': 'test'}]})
    s = ds.sessions.set_index('session_id')
    assert s.loc['s1', 'source'] == 'train' and s.loc['x1', 'source'] == 'heldout' and s.loc['x1', 'type'] == 'bad'


def test_window_sessions_with_per_line_labels(tmp_path):
    lines = [f'- 1117838570 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS KERNEL INFO cache parity error corrected {i}' for i in range(30)]
    lines[7] = 'KERNDTLB 1117838570 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS KERNEL FATAL data TLB error interrupt'
    lines[8] = 'KERNDTLB 1117838570 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS KERNEL FATAL data TLB error interrupt'
    lines[9] = 'APPSEV 1117838570 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS APP FATAL ciod: error'
    (tmp_path/'bgl.log').write_text('\n'.join(lines) + '\n')
    ds, _, _ = load_yaml_spec(tmp_path, {'name': 'b', 'sources': [{'path': './bgl.log', 'format': 'raw'}], 'log_format': BUILTIN_SPECS['bgl-2k']['log_format'],
                                         'session': {'by': 'window', 'size': 10}, 'labels': {'field': 'Label', 'normal': '-'}})
    s = ds.sessions.sort_values('session_id')
    assert s.label.tolist() == [1, 0, 0] and s.type.tolist()[0] == 'KERNDTLB'


@pytest.mark.parametrize('bad, message', [
    ({'colour': 'red'}, 'unknown field(s) colour'),
    ({'sources': [{'path': './missing.log', 'format': 'raw'}]}, 'missing.log: expected an existing log file'),
    ({'sources': [{'path': './app.log', 'format': 'raw', 'speed': 1}]}, 'unknown field(s) speed'),
    ({'labels': {'path': './nolabels.csv', 'id': 'session_id', 'label': 'label'}}, 'nolabels.csv: expected the labels file'),
    ({'session': {'by': 'magic'}}, 'by: id or by: window'),
])
def test_bad_yaml_is_a_clear_error(tmp_path, bad, message):
    app_log(tmp_path)
    (tmp_path/'bad.yaml').write_text(yaml.safe_dump(spec(**bad)))
    with pytest.raises(DataError, match=message.replace('(', r'\(').replace(')', r'\)')): load_spec(tmp_path/'bad.yaml', root=tmp_path)


def test_missing_yaml_file(tmp_path):
    with pytest.raises(DataError, match='nothing.yaml: expected a data set description'): load_dataset(str(tmp_path/'nothing.yaml'))


def test_unseen_template_at_predict_time_gives_the_unseen_id(tmp_path):
    app_log(tmp_path, bad=False)
    ds, parser, _ = load_yaml_spec(tmp_path, spec())
    parser.save(tmp_path/'parser.json'); again = LogParser.load(tmp_path/'parser.json')
    msgs = ['open session req-77 from 10.9.9.9', 'kernel panic: the sky is falling']
    keys = again.transform(msgs)
    assert keys[0] == parser.transform(msgs[:1])[0] and keys[1] == UNSEEN_KEY
    from deeplog_mc.sessions import Vocab
    assert Vocab.build(ds.sessions.events).encode(keys).tolist()[1] == UNK


def test_format_regex_and_grouping_accuracy():
    rx, fields = format_regex(FMT)
    assert fields == ['Date', 'Time', 'Level', 'Component', 'Content'] and rx.match('a b c d: hello world').group('Content') == 'hello world'
    assert grouping_accuracy(['x', 'x', 'y'], [1, 1, 2]) == 1.0 and grouping_accuracy(['x', 'y', 'y'], [1, 1, 2]) == 0.0


def test_hdfs_2k_grouping_accuracy(data_root):
    g = check_grouping(BUILTIN_SPECS['hdfs-raw'], data_root)
    assert g['lines'] == 2000 and g['grouping_accuracy'] >= 0.95


def test_bgl_2k_loads_with_alert_categories_as_types(data_root):
    ds = load_dataset('bgl-2k', data_root)
    an = ds.sessions[ds.sessions.label == 1]
    assert len(ds.sessions) == 100 and len(an) == 28 and an.type.notna().all() and 'KERNDTLB' in set(an.type)


def test_table_source_of_lines(tmp_path):
    import pandas as pd
    rows = [{'msg': f'open session req-{i % 3} from 10.0.0.{i}', 'ts': f'2024-01-01 10:00:{i:02d}'} for i in range(6)]
    rows += [{'msg': f'close session req-{i % 3} after {i} ms', 'ts': f'2024-01-01 10:01:{i:02d}'} for i in range(6)]
    pd.DataFrame(rows[::-1]).to_parquet(tmp_path/'lines.parquet')          # stored out of order
    ds, parser, rep = load_yaml_spec(tmp_path, {'name': 't', 'sources': [{'path': './lines.parquet', 'format': 'table', 'content': 'msg', 'role': 'all'}],
                                                'order_by': ['ts'], 'session': {'by': 'id', 'pattern': r'req-\d+'}})
    ev = ds.sessions.set_index('session_id').events
    opened, closed = parser.transform(['open session req-9 from 10.1.1.1'])[0], parser.transform(['close session req-9 after 5 ms'])[0]
    assert ev['req-0'].tolist() == [opened, opened, closed, closed] and rep['lines'] == 12


@pytest.mark.parametrize('bad, message', [
    ({'order_by': ['Timestamp']}, 'order_by: expected fields of the lines'),
    ({'session': {'by': 'id', 'pattern': 'req-(['}}, 'expected a valid regular expression'),
    ({'session': {'by': 'window', 'size': 0}}, 'expected a positive number as window size'),
    ({'session': {'by': 'window', 'size': 'ten'}}, 'expected a positive number as window size'),
    ({'session': {'by': 'window', 'size': 5, 'unit': 'seconds', 'time_field': 'When'}}, 'expected a time_field'),
])
def test_bad_session_rules_are_clear_errors(tmp_path, bad, message):
    app_log(tmp_path)
    with pytest.raises(DataError, match=message.replace('(', r'\(').replace('[', r'\[')): load_yaml_spec(tmp_path, spec(**bad))


def test_unknown_label_values_fail_and_unlabelled_sessions_are_dropped(tmp_path):
    app_log(tmp_path)
    (tmp_path/'labels.csv').write_text('session_id,label,type\nreq-0,0,\nreq-1,maybe,\n')
    with pytest.raises(DataError, match=r"labels.csv, line 3: expected label to be one of"): load_yaml_spec(tmp_path, spec())
    (tmp_path/'labels.csv').write_text('session_id,label,type\nreq-0,0,\nreq-1,0,\nreq-2,0,\nreq-5,1,quota\n')
    ds, _, rep = load_yaml_spec(tmp_path, spec())
    assert sorted(ds.sessions.session_id) == ['req-0', 'req-1', 'req-2', 'req-5'] and rep['sessions_without_label'] == 2


def test_time_windows_skip_unreadable_times(tmp_path):
    import pandas as pd
    from deeplog_mc.logs import sessions_by_window
    L = pd.DataFrame({'t': ['2024-01-01 10:00:00', 'garbage', '2024-01-01 10:00:30', '2024-01-01 11:00:00']})
    ids, evs, mem, dropped = sessions_by_window(L, np.array([1, 2, 3, 4]), 60, unit='seconds', time_field='t',
                                                time_format='%Y-%m-%d %H:%M:%S', return_dropped=True)
    assert dropped == 1 and [e.tolist() for e in evs] == [[1, 3], [4]]


def test_sessions_take_the_role_of_their_file_and_never_span_files(tmp_path):
    lines = [f'- 1117838570 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS KERNEL INFO cache parity error corrected {i}' for i in range(15)]
    (tmp_path/'a.log').write_text('\n'.join(lines) + '\n'); (tmp_path/'b.log').write_text('\n'.join(lines[:5]) + '\n')
    ds, _, _ = load_yaml_spec(tmp_path, {'name': 'two', 'sources': [{'path': './a.log', 'format': 'raw', 'role': 'train'},
                                                                    {'path': './b.log', 'format': 'raw', 'role': 'test'}],
                                         'log_format': BUILTIN_SPECS['bgl-2k']['log_format'], 'session': {'by': 'window', 'size': 10},
                                         'labels': {'field': 'Label', 'normal': '-'}})
    s = ds.sessions.sort_values('session_id')
    assert s.events.map(len).tolist() == [10, 5, 5] and s.source.tolist() == ['train', 'train', 'heldout']


def test_a_file_without_readable_times_is_named(tmp_path):
    ok = [f'- {1117838570 + i} 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS KERNEL INFO cache parity error {i}' for i in range(5)]
    (tmp_path/'a.log').write_text('\n'.join(ok) + '\n')
    (tmp_path/'b.log').write_text('\n'.join(x.replace('- 11178', '- soon') for x in ok) + '\n')
    two = {'name': 'two', 'sources': [{'path': './a.log', 'format': 'raw', 'role': 'train'}, {'path': './b.log', 'format': 'raw', 'role': 'test'}],
           'log_format': BUILTIN_SPECS['bgl-2k']['log_format'], 'session': {'by': 'window', 'size': 60, 'unit': 'seconds', 'time_field': 'Timestamp'}}
    with pytest.raises(DataError, match=r"b\.log: expected readable times in field 'Timestamp' .*got 'soon"): load_yaml_spec(tmp_path, two)


def test_raw_logs_are_predicted_through_the_runs_parser_and_session_rule(tmp_path):
    "A run trained on a raw-log YAML reads new raw logs with its saved parser; an unseen template flags its session."
    from deeplog_mc.predict import predict_file
    from deeplog_mc.stages import train_base_model
    app_log(tmp_path, bad=False)
    more = ''.join(f'2024-01-01 11:00:{i:02d} INFO svc: open session req-{i} from 10.0.0.1\n'
                   f'2024-01-01 11:00:{i:02d} INFO svc: close session req-{i} after 3 ms\n' for i in range(6, 30))
    (tmp_path/'app.log').write_text((tmp_path/'app.log').read_text() + more)
    (tmp_path/'labels.csv').write_text((tmp_path/'labels.csv').read_text() + ''.join(f'req-{i},{int(i % 7 == 0)},\n' for i in range(6, 30)))
    (tmp_path/'app.yaml').write_text(yaml.safe_dump(spec()))
    prepare_data(tmp_path/'run', dataset=str(tmp_path/'app.yaml'), data_root=tmp_path)
    train_base_model(tmp_path/'run', max_epochs=2, hidden=8)
    new = tmp_path/'new.log'
    new.write_text('2024-01-02 09:00:00 INFO svc: open session req-100 from 10.0.0.9\n'
                   '2024-01-02 09:00:01 INFO svc: close session req-100 after 4 ms\n'
                   '2024-01-02 09:00:02 INFO svc: open session req-101 from 10.0.0.9\n'
                   '2024-01-02 09:00:03 WARN svc: kernel panic in module zz for req-101\n')
    from deeplog_mc.predict import read_predictions
    pred = read_predictions(predict_file(tmp_path/'run', new, tmp_path/'out.csv', progress=False)['output'])
    assert pred.session_id.tolist() == ['req-100', 'req-101']
    assert bool(pred.is_anomaly[1]) and any(e['event'].startswith('E') and e['position'] == 1 for e in pred.explanation[1])
    panic = [e for e in pred.explanation[1] if e['position'] == 1][0]         # down to the raw line of the input
    assert panic['line'] == 4 and panic['raw'] == '2024-01-02 09:00:03 WARN svc: kernel panic in module zz for req-101'
    assert panic['file'] == str(new)


# Masking token by token (each distinct token once) is exact: the text of masking each whole line, for any line.
from hypothesis import given, settings, strategies as st
from deeplog_mc.logs import DEFAULT_MASKS

PIECES = st.sampled_from(list('0123456789abcdefxABCX._-+/:=,()[] \t\n') + ['\u2003', '\x1c', 'blk_', '0x', '10.0.0.1',
                         ':50010', '/a/b.c', '  ', 'é', '1.5', '-3', '12ab-3'])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=30).map(''.join), max_size=20))
def test_masking_by_token_gives_the_text_of_masking_whole_lines(lines):
    p = LogParser(masks=[(r'blk_-?\d+', 'BLK'), *DEFAULT_MASKS])
    assert p._by_token
    assert p.mask_all(lines) == [p.mask(m) for m in lines]


def test_the_parser_gives_the_templates_and_grouping_of_plain_drain3_on_real_logs(data_root):
    from deeplog_mc.bench import compare_parsers
    from deeplog_mc.specs import read_spec_lines, spec_parser
    for name, n in (('hdfs-raw', 60_000), ('bgl-2k', None)):
        spec = BUILTIN_SPECS[name]
        messages = read_spec_lines(spec, data_root).Content.astype(str).tolist()[:n]
        c = compare_parsers(messages, spec_parser(spec['parser'] if 'parser' in spec else {}))
        assert c['identical_templates'] and c['identical_grouping'], (name, c)
