"""`diff2in1.cli.main` under `accelerate launch`, each process re-started with its own ``PYTHONHASHSEED``.

``DIFF2IN1_TEST_HASH_SEEDS`` lists one seed per rank; the interpreter's hash seed is fixed at start-up,
so a process whose seed differs replaces itself (same arguments, same environment plus the seed).
"""

import os
import sys

seeds = os.environ["DIFF2IN1_TEST_HASH_SEEDS"].split(",")
wanted = seeds[int(os.environ.get("RANK", "0"))]
if os.environ.get("PYTHONHASHSEED") != wanted:
    os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], {**os.environ, "PYTHONHASHSEED": wanted})

from diff2in1.cli.main import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
