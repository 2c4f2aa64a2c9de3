"""`python -m netcheck`."""

import sys

try:
    from netcheck.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while importing: nothing was built yet
    sys.stderr.write("interrupted before anything was built: nothing to tear down\n")
    raise SystemExit(130) from None

raise SystemExit(main())
