import sys

from lambdastream.cli import main

sys.exit(main())
