"""`kws data stats`: counts on both real layouts, the printed tables, and the CLI's warnings and errors.

    .venv/bin/python -m pytest tests/test_stats.py -q
"""

from __future__ import annotations

import pytest
from fake_datasets import SPLITS

from kws.config import DataConfig, FrontendConfig
from kws.data.index import build_splits
from kws.data.stats import dataset_stats, print_stats
from kws.errors import DataError

FRONTEND = FrontendConfig()
TF_KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


@pytest.mark.shared_data
def test_stats_on_both_layouts(sc_mini, sc_real_dev, capsys):
    mini = dataset_stats(DataConfig(data_dir=str(sc_mini), wanted_words=TF_KEYWORDS), FRONTEND, progress=False)
    assert (mini.layout, mini.split_method, mini.splits) == ("full", "lists", SPLITS)
    assert [mini.total(s) for s in SPLITS] == [70, 23, 4]
    assert sum(sum(c.values()) for c in mini.word_counts.values()) == 306
    assert len(mini.noise_files) == 6 and mini.noise_seconds == pytest.approx(399.4, abs=0.1)
    assert mini.generated_silence == {"training": 6, "validation": 2, "testing": 1}
    print_stats(mini)
    out = capsys.readouterr().out
    assert "_silence_" in out and "validation" in out and "399.4 s" in out

    dev = dataset_stats(DataConfig(data_dir=str(sc_real_dev), wanted_words=TF_KEYWORDS), FRONTEND, progress=False)
    assert (dev.layout, dev.splits) == ("testset", ("testing",)) and dev.total("testing") == 2748
    print_stats(dev)
    assert "2748" in capsys.readouterr().out


@pytest.mark.shared_data
def test_cli_data_stats(sc_mini, capsys):
    from kws.cli import main

    assert main(["data", "stats", "--data", str(sc_mini), "--quiet", "--set", 'data.wanted_words=["one","two"]']) == 0
    assert "_unknown_" in capsys.readouterr().out
    # yes/no have no clip in sc-mini's testing list: stats still counts, and says training would refuse it.
    assert main(["data", "stats", "--data", str(sc_mini), "--quiet"]) == 0
    assert "warning: the testing split" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(DataError, match="testing split .* is empty"):
        build_splits(DataConfig(data_dir=str(sc_mini)), FRONTEND)
    # A user error: one clear line and exit status 2, no traceback.
    assert main(["data", "stats", "--data", str(sc_mini / "nope"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
