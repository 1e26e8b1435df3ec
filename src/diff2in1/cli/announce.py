"""Messages for the user, printed once however many processes run the command."""

from __future__ import annotations

import os


def announce(message: str) -> None:
    """Print ``message`` on the main process only: under ``accelerate launch`` every process runs the command,
    and each knows its global rank from RANK (set by accelerate and torchrun; absent in a plain run)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(message, flush=True)
