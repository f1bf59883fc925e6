"""The team's model: a small CNN for 1×8×8 digits that expects *normalised* inputs.

``DigitsCNN`` is trained on ``normalise(x) = (x - MEAN) / STD`` (``train.py``), where x is in [0, 1]
and MEAN / STD are the training pixels' mean and standard deviation. The module itself does not
normalise: whoever serves it (and robustcheck, through ``Suite(normalize=(MEAN, STD))``) applies
``normalise`` first. The trained weights are committed as a state dict in ``MODEL_FILE``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

#: mean and std of the training split's pixels in [0, 1] (printed by train.py)
MEAN = 0.3054
STD = 0.3759
#: the committed state dict, found from this file's location (not the working directory)
MODEL_FILE = Path(__file__).resolve().parent / "artifacts" / "digits_cnn.pt"


def normalise(x: torch.Tensor) -> torch.Tensor:
    """The preprocessing the model was trained with: [0, 1] pixels to standardised inputs."""
    return (x - MEAN) / STD


class DigitsCNN(nn.Module):
    """conv 3×3 (16) → ReLU → max-pool → conv 3×3 (32) → ReLU → max-pool → linear (10 logits).

    Input: N×1×8×8 normalised images; output: N×10 logits. About 6,000 parameters.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 16×4×4
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 32×2×2
        )
        self.head = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def load_model() -> DigitsCNN:
    """The committed model, in eval mode (it expects normalised inputs: apply ``normalise`` first)."""
    model = DigitsCNN()
    model.load_state_dict(torch.load(MODEL_FILE, map_location="cpu", weights_only=True))
    return model.eval()
