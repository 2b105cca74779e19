from django.urls import path, re_path

from billcore.porta import views

urlpatterns = [
    path("<str:service>/<str:method>", views.dispatch),
    re_path(r"^(?P<rest>.*)$", views.unknown),
]
