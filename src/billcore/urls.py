from django.urls import include, path

from billcore.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("billcore.web.urls")),
]
