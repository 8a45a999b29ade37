"""A bookshop on FastAPI: ``uvicorn examples.fastapi_app.app:app`` (see app.py)."""
