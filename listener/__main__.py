"""``python -m listener`` is the ``listener`` command."""

import sys

from listener.cli import main

sys.exit(main())
