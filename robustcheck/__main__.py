"""``python -m robustcheck``: see :mod:`robustcheck.cli`."""

import sys

from robustcheck.cli import main

sys.exit(main())
