# syntax=docker/dockerfile:1
# Slim Python, one gunicorn eventlet process serving the page and the socket. No npm: the browser's
# Socket.IO client is committed in static/vendor (checked against package-lock.json by the tests).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    CHAT_ENV=production
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY wsgi.py gunicorn.conf.py Procfile ./
COPY chat ./chat
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN useradd --create-home --uid 10001 chat && mkdir -p /app/instance/uploads && chown -R chat:chat /app/instance
USER chat
# The default database is an SQLite file here, and uploads go to instance/uploads; mount a volume
# to keep them, or set DATABASE_URL (and CHAT_UPLOAD_FOLDER).
VOLUME ["/app/instance"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"
# The same command as the Procfile's web line.
CMD ["gunicorn", "-k", "eventlet", "-w", "1", "-c", "gunicorn.conf.py", "wsgi:app"]
