from django.urls import path

from billcore.web import views

urlpatterns = [
    path("", views.home, name="home"),
]
