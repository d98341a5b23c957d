"""The researcher's console at ``/admin``: a live, password-protected view of a running study.

The server side, one idea per module:

- security: ``passwords`` (argon2 hash; set with ``python -m interactive_gym.admin
  set-password``), ``sessions`` (the signed session cookie and its CSRF token), ``auth`` (login,
  logout and the guard every admin route and the admin socket go through; ``guard`` is what
  the route modules need of it), ``audit`` (who did what, when);
- live data: ``monitor`` (figures kept in memory from every stored chunk, per ``owner``),
  ``views`` and ``detail`` (what the console shows, read from the database in a thread),
  ``figures`` (the games' and plots' arithmetic), ``hub`` (the ``/admin`` socket namespace
  that pushes them), ``api`` (the same as JSON over HTTP);
- data and actions: ``downloads`` (the export as a zip), ``actions`` (exclude, reset, release a
  waiting room);
- ``console``: the facade :func:`interactive_gym.server.app.create_app` builds.

The browser side is ``static/`` (``console.html`` and its modules); docs/admin.md is the guide.
"""
