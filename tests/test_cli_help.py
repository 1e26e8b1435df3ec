"""`diff2in1 --help` and every command's options come up without importing the deep-learning stack."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_command_line_imports_no_torch():
    code = ("import sys; from diff2in1.cli.main import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'diffusers', 'transformers', 'accelerate'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_command_lists_its_options():
    from diff2in1.cli.main import COMMAND_MODULES, build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(COMMAND_MODULES) - {"quality"} <= set(commands)
    assert "--fuse-stride" in commands["warmup"].format_help()
    assert "--teacher-views" in commands["improve"].format_help()
