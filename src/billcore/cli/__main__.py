"""``python -m billcore.cli``."""

import sys

from billcore.cli import main

sys.exit(main())
