"""WSGI entry point (gunicorn ``billcore.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
application = get_wsgi_application()
