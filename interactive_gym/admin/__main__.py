"""``python -m interactive_gym.admin``: the command line of :mod:`interactive_gym.admin.cli`."""

from interactive_gym.admin.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
