"""``python -m stepfun_core.doctor [options]``: the same as ``stepfun doctor [options]``."""

import sys

from stepfun_core.doctor.cli import main

if __name__ == "__main__":
    sys.exit(main(["doctor", *sys.argv[1:]]))
