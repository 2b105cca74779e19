from django.urls import include, path

from billcore.api.v1 import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("rest/", include("billcore.porta.urls")),
    path("my/", include("billcore.selfcare.urls")),
    path("", include("billcore.web.urls")),
]

handler404 = "billcore.web.base.not_found"
