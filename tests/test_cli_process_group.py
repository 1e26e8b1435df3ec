"""A command leaves the process group `accelerate launch` made: gloo aborts now and then at exit otherwise."""

from __future__ import annotations

import torch.distributed as dist

from diff2in1.cli.main import main


def test_a_command_destroys_the_process_group_it_ran_in(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        # Bad input takes the error path, which must leave the group as well.
        assert main(["evaluate", "--checkpoint", str(tmp_path / "missing"), "--data", str(tmp_path / "none")]) == 1
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
