import sys

from embedtune_client.cli import main

sys.exit(main())
