import sys

from cutover_tui.cli import main

sys.exit(main())
