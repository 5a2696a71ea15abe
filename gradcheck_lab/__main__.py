"""``python -m gradcheck_lab``: see :mod:`gradcheck_lab.cli`."""

import sys

from .cli import main

sys.exit(main())
