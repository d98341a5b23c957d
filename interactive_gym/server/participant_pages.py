"""The HTML the entry at ``/`` answers with: the study page shell, and a completed participant's
code. The shell holds no participant: its script starts the study (``POST /api/start``)."""

from __future__ import annotations

from html import escape
from typing import Any

STUDY_JS = "/static/js/study/"

_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{js}study.css">
{extra}</head>
"""


def study_page(title: str) -> str:
    """The page shell: progress bar, scene area, status line; ``main.js`` runs the study."""
    extra = f'<script type="module" src="{STUDY_JS}main.js"></script>\n'
    return (
        _HEAD.format(title=escape(title), js=STUDY_JS, extra=extra)
        + """<body>
<header class="ig-header">
  <div class="ig-progress" role="progressbar" aria-label="Progress through the study"
       aria-valuemin="0" aria-valuemax="1" aria-valuenow="0">
    <div class="ig-progress-bar"></div></div>
  <span class="ig-progress-label" id="ig-progress-label"></span>
</header>
<main id="ig-scene" class="ig-scene"><p class="ig-note">Loading the study&hellip;</p></main>
<footer id="ig-status" class="ig-status" role="status"></footer>
<noscript><p class="ig-error">This study needs JavaScript. Please enable it and reload.</p>
</noscript>
</body></html>
"""
    )


def completed_page(title: str, completion: dict[str, Any]) -> str:
    """What a participant who already completed the study sees when they come back."""
    code = escape(str(completion["completion_code"]))
    link = completion.get("redirect_url")
    back = (
        f'<p><a id="ig-redirect" href="{escape(link)}">Return to the study platform</a></p>'
        if link
        else ""
    )
    return (
        _HEAD.format(title=escape(title), js=STUDY_JS, extra="")
        + f"""<body><main class="ig-scene"><h1>{escape(title)}</h1>
<p id="ig-message">You have already completed this study, so it cannot be taken again.</p>
<p>Your completion code is <strong class="ig-code" id="ig-completion-code">{code}</strong></p>
{back}</main></body></html>
"""
    )
