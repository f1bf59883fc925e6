"""Progress lines (issue 17, item 5): one whole line per stage (training epochs, attack batches) on a
terminal, through pytest's terminal writer in a normal run (no ``-s``); none under ``-q``, with ``CI`` set
or on xdist workers; torchattacks' stray "Failed to set device automatically" line silenced."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from robustcheck import progress
from robustcheck.attacks.autoattack import DEVICE_NOTICE, AutoAttackLinf, _without_device_notice

ROOT = Path(__file__).resolve().parents[2]


class _Lines:
    def __init__(self, terminal: bool = True) -> None:
        self.lines: list[str] = []
        self.terminal = terminal

    def is_terminal(self) -> bool:
        return self.terminal

    def write_line(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def lines(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    forced = progress.get_forced()
    progress.set_enabled(None)
    sink = _Lines()
    previous = progress.set_writer(sink)
    yield sink
    progress.set_writer(previous)
    progress.set_enabled(forced)


# ---------------------------------------------------------------------------- the progress module
def test_a_stage_writes_whole_lines_and_always_its_last_step(lines, monkeypatch):
    assert list(progress.progress(range(3), desc="train demo", unit="epoch")) == [0, 1, 2]
    # quick steps: only the last one is written (MIN_INTERVAL between lines)
    assert len(lines.lines) == 1
    assert re.fullmatch(r"robustcheck: train demo: epoch 3/3 \(\d+\.\ds\)", lines.lines[0])
    lines.lines.clear()
    stage = progress.Stage("attack pgd-linf ε=0.1", 4, "batch", interval=0.0)
    for _ in range(4):
        stage.step()
    assert [ln.split(": ")[-1].split(" (")[0] for ln in lines.lines] == [f"batch {i}/4" for i in (1, 2, 3, 4)]
    assert "left)" in lines.lines[0] and "left" not in lines.lines[-1]  # an estimate until the last step
    assert all("\r" not in ln and "\n" not in ln for ln in lines.lines)


def test_slow_steps_get_a_line_each(lines, monkeypatch):
    clock = iter(range(0, 100, 3))  # 3 s per step: above MIN_INTERVAL
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    stage = progress.Stage("train slow", 3, "epoch")
    for _ in range(3):
        stage.step()
    assert lines.lines == [
        "robustcheck: train slow: epoch 1/3 (3.0s, ~6.0s left)",
        "robustcheck: train slow: epoch 2/3 (6.0s, ~3.0s left)",
        "robustcheck: train slow: epoch 3/3 (9.0s)",
    ]


def test_quiet_in_ci_when_forced_off_and_off_a_terminal(lines, monkeypatch):
    monkeypatch.setenv("CI", "true")
    list(progress.progress(range(2), desc="train ci"))
    monkeypatch.delenv("CI")
    progress.set_enabled(False)
    list(progress.progress(range(2), desc="train forced"))
    progress.set_enabled(None)
    lines.terminal = False
    list(progress.progress(range(2), desc="train pipe"))
    assert lines.lines == []
    lines.terminal = True
    list(progress.progress(range(2), desc="train tty"))
    assert len(lines.lines) == 1


def test_a_broken_writer_never_breaks_the_work(lines):
    def boom(line: str) -> None:
        raise OSError("terminal gone")

    lines.write_line = boom  # type: ignore[method-assign]
    assert list(progress.progress(range(3), desc="train demo")) == [0, 1, 2]


def test_attack_batches_report_progress(lines):
    from robustcheck.attacks import build_attack

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(10, 1, 4, 4), torch.randint(0, 3, (10,))
    attack = build_attack("fgsm", {}, seed=0, batch_size=4)
    attack(model, x, y, [0.1, 0.2])
    # 3 batches of 4 inputs, 2 ε each: one stage of 6 steps; quick, so one line
    assert len(lines.lines) == 1 and lines.lines[0].startswith(
        "robustcheck: attack fgsm ε=0.1,0.2: batch 6/6 ("
    )


# ---------------------------------------------------------------------------- torchattacks' stray print
class _NoParameters(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] * 10


def test_torchattacks_device_notice_is_silenced_and_nothing_else(capfd):
    import torchattacks

    torchattacks.APGD(_NoParameters(), eps=0.1)  # what the notice looks like, unsilenced
    assert DEVICE_NOTICE in capfd.readouterr().out
    AutoAttackLinf().components(_NoParameters(), 0.1, 10)  # four torchattacks constructors
    assert capfd.readouterr().out == ""
    with _without_device_notice():
        print("keep me")
        print(DEVICE_NOTICE)
        print("and me")
    assert capfd.readouterr().out == "keep me\nand me\n"


# ---------------------------------------------------------------------------- a real run on a pseudo-terminal
SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = {s: Scale(n_samples=16, train_limit=200, classifier_epochs=2, defence_epochs=1, attack_steps=2)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(
    name="tiny",
    defences=["none"],
    attacks=[Attack("pgd-linf", eps=0.1)],
    threat_models=["grey-box"],
    scales=TINY,
    indicators=False,
)
"""


def run_on_pty(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``python -m pytest *args`` with stdin, stdout and stderr on a pseudo-terminal (as a person's
    terminal); the text it showed."""
    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=base | (env or {}),
        close_fds=True,
    )
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"pytest on a pty ran past {timeout}s:\n{out.decode(errors='replace')}")
    finally:
        proc.wait()
        os.close(master)
    return out.decode(errors="replace")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "gates").mkdir()
    (tmp_path / "gates" / "suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nrobustcheck_suite_files = gates/*.py\n")

    def args(name: str, *extra: str) -> list[str]:  # a cold cache per run: every stage runs
        return [
            "--robustcheck",
            "-p",
            "no:cacheprovider",
            f"--robustcheck-cache-dir={tmp_path / ('cache-' + name)}",
            f"--robustcheck-results-dir={tmp_path / ('results-' + name)}",
            *extra,
        ]

    return tmp_path, args


def _progress_lines(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if "robustcheck: train" in ln or "robustcheck: attack" in ln]


def test_progress_shows_on_a_terminal_in_a_normal_run(project):
    path, args = project
    text = run_on_pty(path, *args("tty"))
    shown = _progress_lines(text)
    # whole lines of their own (the pty turns "\n" into "\r\n"), no carriage return inside; epoch 1/2
    # shows when it took MIN_INTERVAL seconds or more
    names = [ln.rstrip("\r").split(" (")[0] for ln in shown]
    assert names[-2:] == [
        "robustcheck: train mnist-cnn: epoch 2/2",
        "robustcheck: attack pgd-linf ε=0.1: batch 1/1",
    ], text
    assert set(names[:-2]) <= {"robustcheck: train mnist-cnn: epoch 1/2"}, text
    assert all(ln.startswith("robustcheck: ") and "\r" not in ln.rstrip("\r") for ln in shown), text
    # pytest's own output is intact: the robustcheck table and the summary line
    assert "robustcheck: tiny (scale=default)" in text and "none|pgd-linf|eps=0.1|grey-box" in text
    assert re.search(r"1 passed.* in [\d.]+s", text), text
    assert "Failed to set device" not in text


def test_progress_stays_quiet_under_q_in_ci_and_on_xdist_workers(project):
    path, args = project
    quiet = run_on_pty(path, *args("q", "-q"))
    ci = run_on_pty(path, *args("ci"), env={"CI": "1"})
    for text in (quiet, ci):
        assert re.search(r"1 passed", text), text
        assert _progress_lines(text) == [], text
    pytest.importorskip("xdist")
    xdist = run_on_pty(path, *args("xdist", "-n", "1"))
    assert re.search(r"1 passed", xdist) and _progress_lines(xdist) == [], xdist
