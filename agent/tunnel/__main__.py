"""`python -m agent.tunnel`: `vma tunnel` without the agent's config file."""
import sys

from . import main

sys.exit(main())
