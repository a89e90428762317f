"""One voice: the flags `harmonize`, `remote harmonize`, `eval` and `demo` share mean the same thing in each,
and the old spellings still parse (hidden from --help)."""

from __future__ import annotations

import pytest

from vh.core.cli.main import build_parser


def _parse(*argv):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(
    "head",
    [["harmonize", "in.####.exr"], ["remote", "harmonize", "in.####.exr"], ["eval", "data"], ["demo"]],
    ids=["harmonize", "remote", "eval", "demo"],
)
def test_shared_flags_mean_the_same_everywhere(head):
    args = _parse(*head, "-o", "out", "-m", "stats", "--checkpoint", "c", "--option", "amount=0.5")
    assert args.output == "out" and args.checkpoint == "c" and args.option == ["amount=0.5"]
    assert args.model in ("stats", ["stats"])
    if head[0] != "eval" and head[0] != "demo":
        args = _parse(
            *head,
            "-o",
            "out",
            "--ocio",
            "cfg.ocio",
            "--strength",
            "0.5",
            "--crf",
            "20",
            "--codec",
            "h264",
            "--prores-profile",
            "hq",
        )
        assert (args.ocio, args.strength, args.crf, args.codec, args.prores_profile) == (
            "cfg.ocio",
            0.5,
            20,
            "h264",
            "hq",
        )


def test_old_spellings_are_hidden_aliases(capsys):
    assert _parse("remote", "harmonize", "in.exr", "-o", "o.exr", "--config", "cfg.ocio").ocio == "cfg.ocio"
    assert _parse("harmonize", "in.exr", "-o", "o.exr", "--config", "cfg.ocio").ocio == "cfg.ocio"
    assert _parse("eval", "data", "--json", "r.json").output == "r.json"
    assert _parse("demo", "--frames", "4").length == 4 and _parse("demo").length == 24
    for argv, hidden in (
        (["remote", "harmonize", "-h"], "--config"),
        (["eval", "-h"], "--json"),
        (["demo", "-h"], "--frames"),
    ):
        with pytest.raises(SystemExit):
            _parse(*argv)
        assert hidden not in capsys.readouterr().out
