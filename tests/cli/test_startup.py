"""What a command pays before it does anything: subcommands that need no model do not import torch,
loading a model does not import torch._dynamo (1.5-2 s on a 2-core machine), and `import hyocr`
makes PyTorch's threads sleep while they wait. Those checks run in a fresh interpreter, since this
one has long imported torch and hyocr."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from hyocr.engine.backends import DEFAULT_MODEL_DIR
from hyocr.model.decoder import embedding


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_help_and_synth_do_not_import_torch():
    for argv in (["--help"], ["synth", "--help"], ["--version"]):
        code = f"from hyocr.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
        assert "torch" not in _modules_after(code), argv


def test_run_help_still_lists_its_options(capsys):
    from hyocr.cli import main

    try:
        main(["run", "--help"])
    except SystemExit:
        pass
    assert "--task" in capsys.readouterr().out


def test_loading_a_model_does_not_import_dynamo():
    code = f"from hyocr.model.weights import load_model\nload_model({str(DEFAULT_MODEL_DIR)!r})"
    mods = _modules_after(code)
    assert "torch" in mods and "torch._dynamo" not in mods


def test_embedding_is_initialised_off_the_meta_device():
    torch.manual_seed(0)
    e = embedding(64, 32)
    assert 0.9 < e.weight.std().item() < 1.1 and e.weight.shape == (64, 32)
    with torch.device("meta"):
        assert embedding(8, 4).weight.is_meta


def test_omp_threads_sleep_while_waiting_unless_the_user_says_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import hyocr, os\nprint(os.environ['OMP_WAIT_POLICY'])"
    for given, expected in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        run_env = env if given is None else {**env, "OMP_WAIT_POLICY": given}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=run_env)
        assert done.stdout.strip() == expected, done.stderr
