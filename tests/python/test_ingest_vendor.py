"""The self-hosted socket.io client the uploader imports is the pinned one, and it is served."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from interactive_gym.server import Settings, create_app
from interactive_gym.server.settings import PROJECT_DIR, STATIC_DIR


async def test_socketio_module_points_at_the_pinned_version(tmp_path: Path) -> None:
    pinned = json.loads((PROJECT_DIR / "package.json").read_text())["dependencies"]
    module = (STATIC_DIR / "js" / "data" / "socketio.js").read_text()
    found = re.search(r'from "(/vendor/socket\.io-client@([^/]+)/[^"]+)"', module)
    assert found, "socketio.js must import from /vendor/socket.io-client@<version>/"
    assert found.group(2) == pinned["socket.io-client"]
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", secret="v" * 32)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(found.group(1))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "export" in response.text
