"""paperlens web UI launcher: ``python app.py`` (what ``make app`` runs after ingesting).

The UI itself is the `paperlens.web` package; this file stays at the top level so a
checkout starts it the way Gradio apps are started.
"""

from paperlens.web import main

if __name__ == "__main__":
    main()
