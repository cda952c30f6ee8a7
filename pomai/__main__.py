import sys

from pomai.cli import main

sys.exit(main())
