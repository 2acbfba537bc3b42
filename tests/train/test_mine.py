"""`hyocr mine`: every hard sample is kept with its reward, the output shards read back."""

from __future__ import annotations

import json

from hyocr.cli import main
from hyocr.train.data import ShardIndex


def test_mine_keeps_the_hard_samples(toy_dir, tmp_path):
    code = main(
        [
            "mine",
            "--model",
            str(toy_dir / "init"),
            "--data",
            str(toy_dir / "eval"),
            "--out",
            str(tmp_path),
            "--threshold",
            "0.5",
            "--keep-rest",
            "0",
            "--max-new-tokens",
            "6",
            "--max-pixels",
            "8192",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "mine_summary.json").read_text())
    assert summary["scored"] == 8
    mined = ShardIndex(tmp_path)
    # an untrained model gets everything wrong: all 8 are hard, kept with their images and rewards
    assert summary["hard"] == len(mined) == 8
    assert all(s.meta["mined_reward"] < 0.5 and len(s.images) == 1 for s in mined)
    assert {s.key for s in mined} == {s.key for s in ShardIndex(toy_dir / "eval")}
