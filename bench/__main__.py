"""``python -m bench``: run the benchmarks and write bench/RESULTS.md."""

import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
