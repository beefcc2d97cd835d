import sys

from himnet_lib.cli import main

sys.exit(main())
