"""`vh train`: a typo anywhere in a run config, in the file or in `--set`, is one error line naming the
nearest valid key, instead of a value silently left at its default; so is a value of the wrong type or out of
range, instead of a traceback or a run that trains nothing."""

from __future__ import annotations

import pytest
import yaml

from vh.training.train import load_config


@pytest.mark.parametrize(
    "where, message",
    [
        ({"optm": {"lr": 1e-3}}, "unknown config key 'optm' (did you mean 'optim'?)"),
        ({"optim": {"lr_rate": 1e-3}}, "unknown config key 'optim.lr_rate' (did you mean 'lr'?)"),
        (
            {"optim": {"schedule": "cosin"}},
            "optim.schedule must be one of constant, cosine, got 'cosin' (did you mean 'cosine'?)",
        ),
        (
            {"loss": {"lambda_temporl": 0.1}},
            "unknown config key 'loss.lambda_temporl' (did you mean 'lambda_temporal'?)",
        ),
        (
            {"--set": "model.base_chanels=16"},
            "unknown config key 'model.base_chanels' (did you mean 'base_channels'?)",
        ),
        ({"--set": "optim.lr_rate=1"}, "unknown config key 'optim.lr_rate' (did you mean 'lr'?)"),
        ({"--set": "train.epochs=-3"}, "config key 'train.epochs' is -3 but must be >= 1"),
        ({"--set": "train.batch_size=1.5"}, "config key 'train.batch_size' is an integer, got 1.5"),
        ({"--set": "train.precision=fp16"}, "config key 'train.precision' must be one of bf16, fp32"),
        ({"train": {"stop_at_step": "soon"}}, "config key 'train.stop_at_step' is a number, got 'soon'"),
        ({"val": {"clips": 0}}, "config key 'val.clips' is 0 but must be >= 1"),
        ({"--set": "data.scene_grade=abc"}, "config key 'data.scene_grade' is a number, got 'abc'"),
        ({"data": {"flow": "yes"}}, "config key 'data.flow' is a bool (flag), got 'yes'"),
        (
            {"--set": "data.dancing.max_shiftt=3"},
            "unknown config key 'data.dancing.max_shiftt' (did you mean 'max_shift'?)",
        ),
        ({"--set": "data.video.stride=abc"}, "config key 'data.video.stride' is a number, got 'abc'"),
        ({"data": {"video": {"frames": 4}}}, "set data.frames once for every source, not data.video.frames"),
        ({"--set": "optim.lr=abc"}, "config key 'optim.lr' is a number, got 'abc'"),
        ({"--set": "optim.betas=3"}, "optim.betas must be two numbers in [0, 1), e.g. [0.9, 0.95]; got 3"),
        ({"--set": "optim.warmup_steps=-5"}, "config key 'optim.warmup_steps' is -5 but must be >= 0"),
        ({"--set": "loss.lambda_temporal=x"}, "config key 'loss.lambda_temporal' is a number, got 'x'"),
        ({"--set": "loss.harm=-1"}, "config key 'loss.harm' is -1.0 but must be >= 0"),
        ({"augment": {"flip": "maybe"}}, "config key 'augment.flip' is a bool (flag), got 'maybe'"),
        ({"--set": "data=5"}, "config key 'data' is a section (KEY: VALUE lines), got 5"),
    ],
)
def test_unknown_config_keys_are_one_line_with_the_nearest_key(tmp_path, capsys, where, message):
    from vh.core.cli.main import main

    config = {"task": "huang", "model": {"name": "huang_tiny", "base_channels": 8}, "optim": {"lr": 1e-3}}
    overrides = []
    if "--set" in where:
        overrides = [where["--set"]]
    else:
        for key, value in where.items():
            config.setdefault(key, {}).update(value)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    if overrides:
        load_config(path)  # the file alone is valid: the typo comes from --set
    argv = ["train", str(path), "--run-dir", str(tmp_path / "r")] + [
        a for o in overrides for a in ("--set", o)
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vh: error: ") and message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
