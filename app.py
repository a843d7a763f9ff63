"""Entry point: `flask --app app ...` and gunicorn `app:app`."""
from market import create_app

app = create_app()
