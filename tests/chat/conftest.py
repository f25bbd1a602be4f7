"""The chat example's tests import ``examples.chat.app``, which is not installed."""

import sys
from pathlib import Path

# examples/ lives beside src/, outside the installed package: put the repo on
# the path so the handler module imports the way `lambdastream dev --root .` does.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
