"""``python -m keepalive_lab``: see :mod:`keepalive_lab.cli`."""

import sys

from keepalive_lab.cli import main

sys.exit(main())
