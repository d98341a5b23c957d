"""Serve the files a study hands to the browser by URL (ONNX models of AI agents, ...).

Scenes expose them with ``served_files()`` (see
:mod:`interactive_gym.study.served_file`); each is served at
``/study-files/<sha256>/<name>`` from the bytes read when the study loaded. Only those files
are reachable, and since the URL names the content, responses are cached for a year.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from interactive_gym.server.static_files import IMMUTABLE
from interactive_gym.study import Experiment
from interactive_gym.study.served_file import STUDY_FILES_PREFIX, ServedFile


def collect_served_files(experiment: Experiment) -> dict[str, ServedFile]:
    """Every file the experiment's scenes serve, by digest."""
    files: dict[str, ServedFile] = {}
    for scene in experiment.scenes_by_id.values():
        served = getattr(scene, "served_files", None)
        if callable(served):
            items: Iterable[ServedFile] = served()
            files.update((item.digest, item) for item in items)
    return files


def study_file_routes(experiment: Experiment) -> list[Route]:
    """The route serving the experiment's study files."""
    files = collect_served_files(experiment)

    async def serve(request: Request) -> Response:
        item = files.get(request.path_params["digest"])
        if item is None or item.name != request.path_params["name"]:
            return PlainTextResponse("no such study file", status_code=404)
        return Response(
            item.data, media_type=item.content_type, headers={"cache-control": IMMUTABLE}
        )

    return [Route(STUDY_FILES_PREFIX + "/{digest}/{name}", serve, methods=["GET", "HEAD"])]
