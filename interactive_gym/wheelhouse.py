"""``python -m interactive_gym.wheelhouse``: fill the folder of wheels served to Pyodide.

python -m interactive_gym.wheelhouse add NAME [NAME ...] [--dir data/wheelhouse]
python -m interactive_gym.wheelhouse list [--dir data/wheelhouse]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interactive_gym.server.settings import Settings
from interactive_gym.server.wheelhouse import MICROPIP, Wheelhouse, WheelhouseError

__all__ = ["MICROPIP", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interactive_gym.wheelhouse")
    parser.add_argument("command", choices=["add", "list"])
    parser.add_argument("requirements", nargs="*", help="pip requirement specifiers")
    parser.add_argument("--dir", type=Path, default=Settings().wheelhouse)
    args = parser.parse_args(argv)
    house = Wheelhouse(args.dir)
    if args.command == "add":
        try:
            house.add(args.requirements or [MICROPIP])
        except WheelhouseError as error:
            print(error, file=sys.stderr)
            return 1
    for wheel in house.wheels():
        print(wheel.filename)
    return 0


if __name__ == "__main__":
    sys.exit(main())
