"""A bookshop on Starlette: ``uvicorn examples.starlette_app.app:app`` (see app.py)."""
