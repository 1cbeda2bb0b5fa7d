import sys

from crowdagg.cli import main

sys.exit(main())
