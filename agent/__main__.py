"""`python -m agent ...` runs the VMA command line."""

import sys

from agent.cli import main

sys.exit(main())
