"Each step of stages 03-04 has one named switch, and flipping it changes that step alone (what ablations rely on)."
import json

import numpy as np
import pytest

from deeplog_mc.config import ClassifierConfig, TypingConfig
from deeplog_mc.stages import cluster_anomalies, make_classifier, train_classifier, typing_clusterer


@pytest.fixture(scope='module')
def run(synthetic_run):
    return synthetic_run('switches', 200, 100, 15, base_epochs=6, until='features')


def test_typing_switches_reach_the_clusterer():
    clu = typing_clusterer(TypingConfig(feature_groups='count,events', merge_twins=False, method='kmeans',
                                        seed=4))
    assert (clu.feature_groups, clu.merge_twins, clu.method, clu.random_state) == \
           ('count,events', False, 'kmeans', 4)
    assert typing_clusterer(TypingConfig()).feature_groups is None


@pytest.mark.parametrize('switch', [{}, {'feature_groups': 'count,events'}, {'merge_twins': False},
                                    {'method': 'kmeans'}])
def test_each_typing_switch_runs_and_is_recorded(run, switch):
    t = cluster_anomalies(run, baselines=False, **switch)
    assert t['k'] >= 1 and 0 <= t['test']['nmi'] <= 1
    if 'feature_groups' in switch: assert t['feature_groups'] == 'count,events'
    if 'method' in switch: assert t['method'] == 'kmeans' and 'criterion' in t['rule']
    if 'merge_twins' in switch: assert t['merge_twins'] is False and t['k'] == t['k_before_twins']


def test_classifier_switches_reach_the_model():
    m = make_classifier(ClassifierConfig(unknown_rules='doubt', twin_strength='none'))
    assert m.unknown_rules == ('doubt',) and m.twin_strength is None
    m = make_classifier(ClassifierConfig())
    assert set(m.unknown_rules) == {'doubt', 'distance', 'normal_bound', 'unseen'}
    assert make_classifier(ClassifierConfig(twin_strength='2.5')).twin_strength == 2.5
    # what YAML makes of `-p unknown_rules ""` (None) and of `-p twin_strength off` (False)
    assert make_classifier(ClassifierConfig(unknown_rules=None)).unknown_rules == ()
    assert make_classifier(ClassifierConfig(twin_strength=False)).twin_strength is None


def test_unknown_rules_off_means_no_unknown(run):
    cluster_anomalies(run, baselines=False)
    _, on = train_classifier(run, classifier_epochs=3, write=False)
    _, off = train_classifier(run, classifier_epochs=3, unknown_rules='none', write=False)
    assert off['calibration']['unknown_rules'] == [] and off['test']['unknown_share_of_anomalies'] == 0
    assert on['calibration']['unknown_rules'] == ['doubt', 'distance', 'normal_bound', 'unseen']
