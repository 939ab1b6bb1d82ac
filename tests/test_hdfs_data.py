"The HDFS benchmark as the named dataset `hdfs` (needs ../shared/data or DEEPLOG_MC_DATA)."
from deeplog_mc.datasets import load_dataset, assign_splits


def test_hdfs_counts(data_root):
    ds = load_dataset('hdfs', data_root)
    df = ds.sessions
    assert df.source.value_counts().to_dict() == {'test_abnormal': 16838, 'test_normal': 11039, 'train': 5583}
    an = df[df.label == 1]
    assert an.type.notna().sum() == 12944 and an.type.nunique() == 10
    assert (df.label[df.source != 'test_abnormal'] == 0).all()
    assert 'Receiving block' in ds.templates[5]


def test_hdfs_splits(data_root):
    df = assign_splits(load_dataset('hdfs', data_root).sessions, ['train'], 0.1, 0.5, seed=0)
    tr = df[df.source == 'train']
    assert set(tr.split) == {'train', 'val'} and abs((tr.split == 'val').mean() - 0.1) < 0.01
    ho = df[df.source != 'train']
    assert set(ho.split) == {'fit', 'test'} and abs((ho.split == 'fit').mean() - 0.5) < 0.01
    typed = ho[ho.type.notna()].groupby(['type', 'split']).size().unstack()
    assert ((typed['fit'] - typed['test']).abs() <= 1).all()       # stratified by type
