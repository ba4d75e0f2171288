"""``python -m keepalive_lab``: see :mod:`keepalive_lab.cli`."""

import sys

from .cli import main

sys.exit(main())
