"""`semhash serve`: a web page and a JSON API over opened collections (FastAPI + uvicorn).

`create_app(paths)` builds the app; the page is server-rendered HTML (Jinja2) with a little
plain JavaScript, the API answers with the objects `semhash search --json` prints.
"""

from semantic_hashing.server.app import create_app

__all__ = ["create_app"]
