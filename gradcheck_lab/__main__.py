"""``python -m gradcheck_lab``: see :mod:`gradcheck_lab.cli`."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: one line, as anywhere later
    print("\ninterrupted: nothing was written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
