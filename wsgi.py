"""WSGI entry point: `gunicorn -k eventlet -w 1 wsgi:app` or `flask --app wsgi run`."""

from chat import create_app

app = create_app()
