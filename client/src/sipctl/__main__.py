import sys

from sipctl.cli import main

sys.exit(main())
