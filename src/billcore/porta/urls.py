from django.urls import path, re_path

from billcore.porta import views

urlpatterns = [
    path("<str:service>/<str:method>", views.dispatch),
    # A trailing slash (``Session/login/``) and the path style
    # ``<Service>/<method>/<auth_info JSON>/<params JSON>`` (the JSON may hold ``/``).
    re_path(r"^(?P<service>[^/]+)/(?P<method>[^/]+)/(?P<tail>(?s:.*))$", views.dispatch),
    re_path(r"^(?P<rest>.*)$", views.unknown),
]
