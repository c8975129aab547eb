"""The web app (``photod serve``, or inside ``photod run`` with ``web.enabled``).

Server-rendered pages (Starlette, Jinja2 templates, htmx vendored under ``static/``) over the
index and concept store of the one wired :class:`~photod.app.App`. Nothing here is imported
unless the web app is asked for. Start at :func:`photod.web.server.create_web_app`.
"""
