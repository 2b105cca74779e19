"""``/my/``: the customer's self-care (issue 16 §1)."""

from django.urls import path

from billcore.selfcare import views, views_tabs

urlpatterns = [
    path("", views.overview, name="selfcare-overview"),
    path("login/", views.login_page, name="selfcare-login"),
    path("login/code/", views.code_page, name="selfcare-code"),
    path("logout/", views.logout_view, name="selfcare-logout"),
    path("enter/", views.enter, name="selfcare-enter"),
    path("usage/", views.usage, name="selfcare-usage"),
    path("invoices/", views.invoices, name="selfcare-invoices"),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="selfcare-invoice-pdf"),
    path("invoices/<int:invoice_id>/pay/", views.pay_invoice, name="selfcare-invoice-pay"),
    path("payments/", views.payments, name="selfcare-payments"),
    path("accounts/", views.accounts, name="selfcare-accounts"),
    path("profile/", views.profile, name="selfcare-profile"),
    path("notifications/", views.notifications, name="selfcare-notifications"),
    path("quotas/", views_tabs.quotas, name="selfcare-quotas"),
    path("numbers/", views_tabs.numbers, name="selfcare-numbers"),
    path("speed-dial/", views_tabs.speed_dial, name="selfcare-speed-dial"),
    path(
        "speed-dial/<int:entry_id>/delete/",
        views_tabs.speed_dial_delete,
        name="selfcare-speed-dial-delete",
    ),
    path("seller-logo/", views.seller_logo, name="selfcare-seller-logo"),
]
