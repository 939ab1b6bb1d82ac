"scikit-learn's estimator contract holds for every estimator: __init__ stores, fit learns `*_`, clone and get_params round-trip."
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (check_get_params_invariance, check_no_attributes_set_in_init,
                                            check_parameters_default_constructible, check_set_params)

from deeplog_mc.classifier import EnhancedDeepLogModel
from deeplog_mc.clustering import AnomalyClusterer
from deeplog_mc.detector import DeepLog, NGramBaseline
from deeplog_mc.features import DeviationFeatures
from deeplog_mc.params import ParameterModel
from deeplog_mc.synthetic import generate_synthetic
from deeplog_mc.values import EventValues
from deeplog_mc.workflows import Workflows


@pytest.fixture(scope='module')
def data():
    df = generate_synthetic(n_train=80, n_test_normal=30, n_per_type=4, seed=0)
    return list(df.events[df.source == 'train']), df[df.source == 'heldout']


def fitted_deeplog(train):
    m = DeepLog(hidden=8, emb_dim=4, max_epochs=2, g=9, random_state=3).fit(train[:60], train[60:])
    m.calibrate('topg', 'val', val_scores=m.score_events(train[60:]), max_fpr=0.2)    # may choose another g_
    return m


def toy_values(n, seed):
    "`n` sessions `1 2 3` with a size on key 2 and a time delta on keys 2 and 3."
    rng = np.random.default_rng(seed); dt = rng.lognormal(-2, 0.2, 3 * n); dt[::3] = np.nan
    vals = np.full((3 * n, 1), np.nan); vals[1::3, 0] = rng.normal(100, 5, n)
    return [[1, 2, 3]] * n, EventValues(np.array([f's{i}' for i in range(n)]), np.arange(0, 3 * n + 1, 3), vals, dt)


def fit_each(name, data):
    train, held = data
    if name == 'Workflows': return Workflows(support=0.95), Workflows(support=0.95).fit(train)
    if name == 'ParameterModel':
        kw = dict(max_epochs=2, patience=1, hidden=8, emb_dim=4, random_state=0)
        return ParameterModel(**kw), ParameterModel(**kw).fit(*toy_values(40, 0), *toy_values(20, 1))
    if name == 'DeepLog': return DeepLog(hidden=8, emb_dim=4, max_epochs=2, g=9, random_state=3), fitted_deeplog(train)
    if name == 'NGramBaseline': return NGramBaseline(ns=(1, 2)), NGramBaseline(ns=(1, 2)).fit(train)
    if name == 'DeviationFeatures': return DeviationFeatures(), DeviationFeatures().fit(fitted_deeplog(train), train)
    if name == 'AnomalyClusterer':
        rng = np.random.default_rng(0)
        X = pd.DataFrame(np.vstack([rng.normal(c, 0.1, (30, 3)) for c in (0, 3, 6)]), columns=['len', 'dev_count', 'nll_max'])
        kw = dict(k=3, n_fine=6, random_state=1)
        return AnomalyClusterer(**kw), AnomalyClusterer(**kw).fit(X)
    kw = dict(variant='sequence', max_epochs=2, head_hidden=8, unknown_rules=('doubt',), random_state=2)
    y = np.where(held.label == 1, held.type.fillna('normal'), 'normal')
    return EnhancedDeepLogModel(**kw), EnhancedDeepLogModel(**kw).fit(list(held.events), y)


NAMES = ['DeepLog', 'NGramBaseline', 'DeviationFeatures', 'AnomalyClusterer', 'EnhancedDeepLogModel', 'Workflows',
         'ParameterModel']


@pytest.mark.parametrize('name', NAMES)
def test_fit_never_rewrites_what_the_user_set_and_clone_gives_it_back(name, data):
    configured, fitted = fit_each(name, data)
    assert fitted.get_params() == configured.get_params()
    fresh = clone(fitted)
    assert fresh.get_params() == configured.get_params()
    assert not [a for a in vars(fresh) if a.endswith('_') and not a.startswith('_')], 'clone kept learned attributes'
    assert [a for a in vars(fitted) if a.endswith('_') and not a.startswith('_')], 'fit learned no attribute'


@pytest.mark.parametrize('name', NAMES)
def test_scikit_learn_parameter_checks(name, data):
    est, _ = fit_each(name, data)
    check_parameters_default_constructible(name, est)
    check_no_attributes_set_in_init(name, est)
    check_get_params_invariance(name, est)
    check_set_params(name, est)


def test_calibration_is_learned_not_a_hyper_parameter(data):
    m = fitted_deeplog(data[0])
    assert m.g == 9 and m.get_params()['g'] == 9 and m.rule_ == 'topg'
    assert m.param_ == m.g_


def test_set_params_then_fit_uses_the_new_value(data):
    m = DeepLog(hidden=8, emb_dim=4, max_epochs=1).set_params(window=3).fit(data[0][:40])
    assert m.window == 3 and m.net_.lstm.hidden_size == 8
