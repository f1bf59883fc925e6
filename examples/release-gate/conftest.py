"""One CPU thread for everything the tests and suites run.

The model and the defences here are tiny: torch's intra-op threads only add overhead, and on a busy
2-core machine two threads made the cold smoke run 18× slower (127 s vs 7 s, 2026-11-26). One thread
also keeps training reproducible (the committed baseline was measured with 1 thread).
"""

import torch

torch.set_num_threads(1)
