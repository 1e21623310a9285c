"""``python -m paperlens.web``: serve the UI (what ``python app.py`` does in a checkout)."""

from .server import main

main()
