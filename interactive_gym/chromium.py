"""Where headless Chromium is and how it is started, for the bots, benchmarks and tests.

Chromium comes from Debian's package (``bin/setup`` installs it). The flags keep it from
reaching out to the network on its own (updates, sync, QUIC probes) and run it without a GPU
or a sandbox, as root in a container requires.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
