"""Replication of seed 003 (generative purifiers AE / VAE / DAE / DVAE / CAE / CVAE stacked before the
classifier) on the embedded digits: ``mnist-replication-003``.

Run: ``pytest --robustcheck suites/replication_003.py``.

Paper setting (003 §3–5): MNIST, the Carlini–Wagner attack with an L∞ budget, projected on the ε-box at
every step (``cw-linf``), 100 iterations, learning rate 0.1, c = 1, κ = 0, ε in [0.05, 0.3], on the
first 1,000 test digits, against the *stacked* network (white-box: x′ crafted on C∘P, with VAE
sampling disabled: the purifiers' ``attack_model``). Purifiers: the registered ``ae``, ``dae``, ``vae``,
``dvae``, ``cae`` and ``cvae-contractive`` with their defaults (2 conv layers of 32 channels, 3×3,
latent 128, ReLU; noise stp from 003's range [0.1, 0.4], 0.1 for the contractive ones as in Fig 4),
plus ``dvae`` with the posterior scale 0 (003 Fig 3's trade-off) and ``dae`` at stp 0.4 (Fig 1's
"higher stp helps").

Paper numbers: none. 003 reports its results only as curves (Figs 1–4: accuracy vs ε), and the seed
text holds no readable value of them, so this suite carries no ``references``; it measures the trends
the paper states (denoising and higher stp help; the latent scale trades clean accuracy for
robustness), which docs/replication.md reads off the run.

Scales: ``default`` = 200 test digits, 3,500 training digits, classifier 20 epochs (shared), purifiers
40 epochs (issue 19: the epoch curve ``benchmarks/epoch_curve.py`` of 2026-11-27 measured defended clean
accuracy 0.93-0.94 at 40 epochs for ae, dae, dae stp 0.4, cae and dvae scale 0, against 0.825-0.905 at
the former 10; vae, dvae and cvae-contractive stay below 0.93 at 40 and at 80 epochs with 003's ELBO,
and reach 0.930-0.935 at 40 with a KL weight of 0.1 (0.01 for cvae-contractive), the rows ``*-kl*``:
see docs/replication.md), C&W capped at 20 steps; ``paper`` = full MNIST from the data root
(skipped without it), 1,000 test digits, 100 steps, 50 epochs.
Measured at ``default``: record 0008 (10 epochs) and record 0009 (40 epochs: 10 min 43 s on 1 CPU
thread, the eight purifiers trained in the run); tables in docs/replication.md.

Bars (``replication_003.bars.json``): from runs at scale ``default`` with seeds 0, 1 and 2
(``--robustcheck-seed``: each re-splits the data and retrains the classifier and every purifier; CPU, 1
thread, torch 2.14.1, 2026-11-27; records in ``docs/records/rep003_*.json``; seed 0 of the two
fresh-noise rows is a ``-k dvae-fresh`` run), the lowest of the three minus 0.07 (n = 200: ~2 SE) for
corrected and defended clean accuracy, none below 0.10. Written by ``python benchmarks/bars_from_run.py
mnist-replication-003 docs/records/rep003_seed*.json docs/records/rep003_fresh_seed0_*.json --margin 0.07
--clean-margin 0.07 --write suites/replication_003.py``. (The seed-1 and seed-2 runs measured the
fresh-noise rows before the two indicator fixes for stochastic targets and flagged them; the
``rep003_fresh_seed{1,2}`` re-runs after the fixes give the same metrics and pass every check.)
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Scale, Suite
from robustcheck.bars import measured_bars

SUITE = Suite(
    name="mnist-replication-003",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=[
        "none",
        "ae",
        "dae",
        Defence("dae", id="dae-stp0.4", stp=0.4),
        "cae",
        "vae",
        "dvae",
        Defence("dvae", id="dvae-scale0", scale=0.0),
        "cvae-contractive",
        # β-VAE rows (KL weight < 1, an implementation choice 003 does not make: its loss is the ELBO):
        # the weight that brings each VAE to >= 0.93 defended clean accuracy at 40 epochs on the embedded
        # digits with 003's posterior sampling (scale 1) kept (docs/replication.md, "KL weight")
        Defence("vae", id="vae-kl0.1", kl_weight=0.1),
        Defence("dvae", id="dvae-kl0.1", kl_weight=0.1),
        Defence("cvae-contractive", id="cvae-contractive-kl0.01", kl_weight=0.01),
        # 003's randomness at inference: a fresh latent sample per query, unknown to the attacker, so the
        # white-box attack runs EOT (Suite.eot_samples, 8) over it (defences/vae_purifiers.py,
        # fresh_noise); labels from the fixed draw of sample_seed, as in the dvae row. With the dvae-scale0
        # row: the latent scale 0 / 1 / 2 against an EOT attacker (003 Fig 3's trade-off)
        Defence("dvae", id="dvae-fresh", fresh_noise=True),
        Defence("dvae", id="dvae-fresh-scale2", scale=2.0, fresh_noise=True),
    ],
    attacks=[Attack("cw-linf", eps=[0.05, 0.1, 0.2, 0.3], steps=100, lr=0.1, const=1.0, confidence=0.0)],
    threat_models=["white-box"],
    seed=0,
    fpr=0.05,
    scales={
        "smoke": Scale(n_samples=32, train_limit=600, classifier_epochs=2, defence_epochs=2, attack_steps=5),
        "default": Scale(
            n_samples=200, train_limit=None, classifier_epochs=20, defence_epochs=40, attack_steps=20
        ),
        "paper": Scale(
            n_samples=1000, train_limit=None, classifier_epochs=20, defence_epochs=50, dataset="mnist"
        ),
    },
    thresholds=[*measured_bars(__file__)],  # seeds 0-2 (replication_003.bars.json)
)
