"""``python -m dsflow``: the same as the ``dsflow`` command."""

import sys

from dsflow.cli import main

sys.exit(main())
