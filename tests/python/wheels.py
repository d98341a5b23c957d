"""Build small pure-Python wheels at test time, so package installs are tested offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    modules: dict[str, str],
    requires: tuple[str, ...] = (),
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` holding ``modules`` (path → source)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    files = {
        **modules,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": WHEEL_FILE,
        f"{info}/top_level.txt": "\n".join({m.split("/")[0].removesuffix(".py") for m in modules}),
    }
    record = "".join(
        f"{p},{_record_hash(s.encode())},{len(s.encode())}\n" for p, s in files.items()
    )
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for p, source in files.items():
            archive.writestr(p, source)
        archive.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return path
