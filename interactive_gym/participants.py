"""``python -m interactive_gym.participants``: look after participants from the command line.

    python -m interactive_gym.participants release PARTICIPANT_ID [--db URL]

``release`` lets a participant continue in another browser or on another device: a study stays
with the browser that started it, so a participant whose laptop broke down is told the study
was started elsewhere. After ``release``, the old browser's session stops working and the next
browser that opens the participant's study link takes it over, where they left off.
"""

from __future__ import annotations

import argparse

from interactive_gym.data.store import DEFAULT_URL, Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.participants", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser(
        "release", help="let a participant continue in another browser or on another device"
    )
    release.add_argument("participant_id")
    release.add_argument("--db", default=DEFAULT_URL, help="database URL (default: %(default)s)")
    args = parser.parse_args(argv)
    store = Store(args.db)
    try:
        found = store.get_participant(args.participant_id)
        if found is None:
            parser.error(f"participant {args.participant_id!r} is not in {args.db}")
        if found.status == "completed":
            parser.error(f"participant {args.participant_id!r} has completed the study already")
        store.move_device(args.participant_id, release=True)
    finally:
        store.close()
    print(
        f"participant {args.participant_id!r} released: the next browser to open their study "
        "link continues where they left off; the old one stops."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
