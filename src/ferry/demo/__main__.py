"""``python -m ferry.demo``: serve the demo API until SIGTERM/SIGINT (see ``ferry.demo.server.main``)."""

import sys

from ferry.demo.server import main

sys.exit(main())
