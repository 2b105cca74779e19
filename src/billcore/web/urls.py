from django.contrib.auth import views as auth_views
from django.urls import path

from billcore.web import (
    dashboard,
    lockouts,
    views_audit,
    views_bulk,
    views_classes,
    views_customer_tabs,
    views_customers,
    views_dids,
    views_engine,
    views_features,
    views_installation,
    views_invoices,
    views_invoicing,
    views_measured,
    views_network,
    views_notifications,
    views_plans,
    views_rating,
    views_reseller,
    views_search,
    views_selfcare_tab,
    views_status,
    views_subscriptions,
    views_users,
)

urlpatterns = [
    # The dashboard (issue 17 §2); the customer list stays at /customers/.
    path("", dashboard.dashboard, name="home"),
    path("login/", views_installation.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("search/", views_search.search_page, name="search"),
    # A reseller's own pages (issue 16 §2): its account with the operator, its branding.
    path("my-account/", views_reseller.my_account, name="my-account"),
    path("my-account/branding/", views_reseller.my_branding, name="my-branding"),
    path(
        "my-account/invoices/<int:invoice_id>/pdf/",
        views_reseller.my_invoice_pdf,
        name="my-invoice-pdf",
    ),
    path("resellers/<int:reseller_id>/logo/", views_reseller.reseller_logo, name="reseller-logo"),
    path(
        "customers/<int:customer_id>/branding/",
        views_reseller.customer_branding,
        name="customer-branding",
    ),
    path("network/", views_network.nas_list, name="network-nas"),
    path("network/nas/<int:nas_id>/remove/", views_network.nas_remove, name="network-nas-remove"),
    path("network/sessions/", views_network.session_list, name="network-sessions"),
    path("classes/", views_classes.class_list, name="class-list"),
    path("classes/add/", views_classes.class_add, name="class-add"),
    path("classes/<int:class_id>/", views_classes.class_edit, name="class-edit"),
    path("classes/<int:class_id>/delete/", views_classes.class_delete, name="class-delete"),
    path("customers/", views_customers.customer_list, name="customer-list"),
    path("customers/add/", views_customers.customer_add, name="customer-add"),
    path("customers/bulk/", views_bulk.customer_bulk, name="customer-bulk"),
    path("customers/<int:customer_id>/", views_customers.customer_edit, name="customer-edit"),
    # The tabs' own forms and views (Balance & Credits, Fraud Protection, Accounts).
    path(
        "customers/<int:customer_id>/credit-limit/",
        views_customer_tabs.customer_credit_limit,
        name="customer-credit-limit",
    ),
    path(
        "customers/<int:customer_id>/fraud/",
        views_customer_tabs.customer_fraud,
        name="customer-fraud",
    ),
    path(
        "customers/<int:customer_id>/xdrs.csv",
        views_customer_tabs.customer_xdrs_csv,
        name="customer-xdrs-csv",
    ),
    path(
        "customers/<int:customer_id>/accounts/",
        views_customer_tabs.customer_accounts,
        name="customer-accounts",
    ),
    path(
        "customers/<int:customer_id>/accounts/<int:account_id>/",
        views_customer_tabs.customer_account_update,
        name="customer-account-update",
    ),
    path(
        "customers/<int:customer_id>/transfer/",
        views_customer_tabs.customer_transfer,
        name="customer-transfer",
    ),
    # Invoices & Taxation and Payment Method tabs, invoices, periods (issue 4).
    path(
        "customers/<int:customer_id>/invoice-template/",
        views_invoicing.customer_invoice_template,
        name="customer-invoice-template",
    ),
    path(
        "customers/<int:customer_id>/out-of-turn-invoice/",
        views_invoicing.customer_out_of_turn,
        name="customer-out-of-turn",
    ),
    path(
        "customers/<int:customer_id>/payment-method/",
        views_invoicing.customer_payment_method,
        name="customer-payment-method",
    ),
    path(
        "customers/<int:customer_id>/payment-method/remove/",
        views_invoicing.customer_payment_method_remove,
        name="customer-payment-method-remove",
    ),
    path("invoices/", views_invoices.invoice_list, name="invoice-list"),
    path("invoices/<int:invoice_id>/", views_invoicing.invoice_detail, name="invoice-detail"),
    path("invoices/<int:invoice_id>/pdf/", views_invoicing.invoice_pdf, name="invoice-pdf"),
    # The invoice's actions (issue 17).
    path("invoices/<int:invoice_id>/pay/", views_invoices.invoice_pay, name="invoice-pay"),
    path("invoices/<int:invoice_id>/void/", views_invoices.invoice_void, name="invoice-void"),
    path("invoices/<int:invoice_id>/resend/", views_invoices.invoice_resend, name="invoice-resend"),
    path(
        "invoices/<int:invoice_id>/render/",
        views_invoices.invoice_rerender,
        name="invoice-rerender",
    ),
    path(
        "invoices/<int:invoice_id>/pdf/v<int:version>/",
        views_invoices.invoice_pdf_version,
        name="invoice-pdf-version",
    ),
    path(
        "credit-notes/<int:credit_note_id>/pdf/",
        views_invoices.credit_note_pdf,
        name="credit-note-pdf",
    ),
    path("periods/", views_invoicing.periods_awaiting, name="periods-awaiting"),
    path("periods/approve/", views_bulk.period_bulk_approve, name="period-bulk-approve"),
    path(
        "periods/<int:period_id>/approve/",
        views_invoicing.period_approve,
        name="period-approve",
    ),
    path(
        "periods/<int:period_id>/statement.pdf",
        views_invoicing.period_statement,
        name="period-statement",
    ),
    path(
        "customers/<int:customer_id>/adjust/",
        views_customers.customer_adjust,
        name="customer-adjust",
    ),
    path(
        "customers/<int:customer_id>/delete/",
        views_customers.customer_delete,
        name="customer-delete",
    ),
    path("business-models/", views_installation.business_model_list, name="business-model-list"),
    path("business-models/add/", views_installation.business_model_add, name="business-model-add"),
    path(
        "business-models/<int:business_model_id>/",
        views_installation.business_model_edit,
        name="business-model-edit",
    ),
    path(
        "business-models/<int:business_model_id>/delete/",
        views_installation.business_model_delete,
        name="business-model-delete",
    ),
    path("settings/", views_installation.settings_page, name="settings"),
    path("settings/currencies/add/", views_installation.currency_add, name="currency-add"),
    path(
        "settings/currencies/<str:code>/remove/",
        views_installation.currency_remove,
        name="currency-remove",
    ),
    path(
        "settings/custom-fields/add/", views_installation.custom_field_add, name="custom-field-add"
    ),
    path("audit/", views_audit.audit_list, name="audit"),
    # The billing engine's runs and status (issue 17 §5), administrators only.
    path("engine/", views_engine.engine_page, name="engine"),
    path("engine/runs/<int:run_id>/", views_engine.engine_run_page, name="engine-run"),
    path("settings/lockouts/", lockouts.lockout_list, name="lockouts"),
    # Users and API tokens (issue 10 §3).
    path("users/", views_users.user_list, name="user-list"),
    path("users/add/", views_users.user_add, name="user-add"),
    path("users/<int:user_id>/", views_users.user_edit, name="user-edit"),
    path("users/<int:user_id>/active/", views_users.user_active, name="user-active"),
    path("users/<int:user_id>/password/", views_users.user_password, name="user-password"),
    path("tokens/", views_users.token_list, name="token-list"),
    path("tokens/<int:token_id>/revoke/", views_users.token_revoke, name="token-revoke"),
    # Subscription plans and the customer page's Subscriptions tab (issue 5 §3).
    path("subscription-plans/", views_subscriptions.plan_list, name="subscription-plan-list"),
    path("subscription-plans/add/", views_subscriptions.plan_add, name="subscription-plan-add"),
    path(
        "subscription-plans/<int:plan_id>/",
        views_subscriptions.plan_edit,
        name="subscription-plan-edit",
    ),
    path(
        "subscription-plans/<int:plan_id>/delete/",
        views_subscriptions.plan_delete,
        name="subscription-plan-delete",
    ),
    path(
        "customers/<int:customer_id>/subscribe/",
        views_subscriptions.customer_subscribe,
        name="customer-subscribe",
    ),
    path(
        "subscriptions/<int:subscription_id>/end/",
        views_subscriptions.subscription_end,
        name="subscription-end",
    ),
    # Change status, status history, notification log (issue 5 §1, §4).
    path(
        "customers/<int:customer_id>/status/",
        views_status.customer_status,
        name="customer-status",
    ),
    # Notification templates (issue 5 §4), administrators only.
    path(
        "notifications/templates/",
        views_notifications.template_list,
        name="notification-templates",
    ),
    path(
        "notifications/templates/<str:kind>/",
        views_notifications.template_edit,
        name="notification-template-edit",
    ),
    path(
        "notifications/templates/<str:kind>/reset/",
        views_notifications.template_reset,
        name="notification-template-reset",
    ),
    path("rating/", views_rating.rating_home, name="rating"),
    # Discount plans (issue 13): the Rating section's pages, the customer's and account's.
    path("rating/discount-plans/", views_plans.plan_list, name="plans-list"),
    path("rating/discount-plans/add/", views_plans.plan_add, name="plans-add"),
    path("rating/discount-plans/<int:plan_id>/", views_plans.plan_edit, name="plans-edit"),
    path(
        "rating/discount-plans/<int:plan_id>/delete/",
        views_plans.plan_delete,
        name="plans-delete",
    ),
    path("rating/discount-plans/<int:plan_id>/clone/", views_plans.plan_clone, name="plans-clone"),
    path(
        "rating/discount-plans/<int:plan_id>/rules/add/",
        views_plans.rule_add,
        name="plans-rule-add",
    ),
    path(
        "rating/discount-plans/<int:plan_id>/rules/<int:rule_id>/",
        views_plans.rule_edit,
        name="plans-rule-edit",
    ),
    path(
        "rating/discount-plans/<int:plan_id>/rules/<int:rule_id>/delete/",
        views_plans.rule_delete,
        name="plans-rule-delete",
    ),
    path(
        "rating/discount-plans/<int:plan_id>/assign/",
        views_plans.plan_assign_product,
        name="plans-assign-product",
    ),
    path(
        "rating/discount-plans/assignments/<int:assignment_id>/end/",
        views_plans.assignment_end,
        name="plans-assignment-end",
    ),
    path(
        "customers/<int:customer_id>/discount-plans/",
        views_plans.customer_assign,
        name="customer-discount-assign",
    ),
    path(
        "customers/<int:customer_id>/accounts/<int:account_id>/plans/",
        views_plans.account_plans,
        name="plans-account",
    ),
    path(
        "customers/<int:customer_id>/wallets/<int:rule_id>/top-up/",
        views_plans.wallet_topup,
        name="plans-wallet-topup",
    ),
    path(
        "rating/services/",
        views_rating.object_list,
        {"kind": "services"},
        name="rating-services-list",
    ),
    path(
        "rating/services/add/",
        views_rating.object_add,
        {"kind": "services"},
        name="rating-services-add",
    ),
    path(
        "rating/services/<int:obj_id>/",
        views_rating.object_edit,
        {"kind": "services"},
        name="rating-services-edit",
    ),
    path(
        "rating/services/<int:obj_id>/delete/",
        views_rating.object_delete,
        {"kind": "services"},
        name="rating-services-delete",
    ),
    path(
        "rating/destinations/",
        views_rating.object_list,
        {"kind": "destinations"},
        name="rating-destinations-list",
    ),
    path(
        "rating/destinations/add/",
        views_rating.object_add,
        {"kind": "destinations"},
        name="rating-destinations-add",
    ),
    path(
        "rating/destinations/<int:obj_id>/",
        views_rating.object_edit,
        {"kind": "destinations"},
        name="rating-destinations-edit",
    ),
    path(
        "rating/destinations/<int:obj_id>/delete/",
        views_rating.object_delete,
        {"kind": "destinations"},
        name="rating-destinations-delete",
    ),
    path(
        "rating/destination-groups/",
        views_rating.object_list,
        {"kind": "destination-groups"},
        name="rating-destination-groups-list",
    ),
    path(
        "rating/destination-groups/add/",
        views_rating.object_add,
        {"kind": "destination-groups"},
        name="rating-destination-groups-add",
    ),
    path(
        "rating/destination-groups/<int:obj_id>/",
        views_rating.object_edit,
        {"kind": "destination-groups"},
        name="rating-destination-groups-edit",
    ),
    path(
        "rating/destination-groups/<int:obj_id>/delete/",
        views_rating.object_delete,
        {"kind": "destination-groups"},
        name="rating-destination-groups-delete",
    ),
    path(
        "rating/offpeak-periods/",
        views_rating.object_list,
        {"kind": "offpeak-periods"},
        name="rating-offpeak-periods-list",
    ),
    path(
        "rating/offpeak-periods/add/",
        views_rating.object_add,
        {"kind": "offpeak-periods"},
        name="rating-offpeak-periods-add",
    ),
    path(
        "rating/offpeak-periods/<int:obj_id>/",
        views_rating.object_edit,
        {"kind": "offpeak-periods"},
        name="rating-offpeak-periods-edit",
    ),
    path(
        "rating/offpeak-periods/<int:obj_id>/delete/",
        views_rating.object_delete,
        {"kind": "offpeak-periods"},
        name="rating-offpeak-periods-delete",
    ),
    path(
        "rating/tariffs/", views_rating.object_list, {"kind": "tariffs"}, name="rating-tariffs-list"
    ),
    path(
        "rating/tariffs/add/",
        views_rating.object_add,
        {"kind": "tariffs"},
        name="rating-tariffs-add",
    ),
    path(
        "rating/tariffs/<int:obj_id>/",
        views_rating.object_edit,
        {"kind": "tariffs"},
        name="rating-tariffs-edit",
    ),
    path(
        "rating/tariffs/<int:obj_id>/delete/",
        views_rating.object_delete,
        {"kind": "tariffs"},
        name="rating-tariffs-delete",
    ),
    path(
        "rating/products/",
        views_rating.object_list,
        {"kind": "products"},
        name="rating-products-list",
    ),
    path(
        "rating/products/add/",
        views_rating.object_add,
        {"kind": "products"},
        name="rating-products-add",
    ),
    path(
        "rating/products/<int:obj_id>/",
        views_rating.object_edit,
        {"kind": "products"},
        name="rating-products-edit",
    ),
    path(
        "rating/products/<int:obj_id>/delete/",
        views_rating.object_delete,
        {"kind": "products"},
        name="rating-products-delete",
    ),
    path(
        "rating/tariffs/<int:tariff_id>/rates/add/", views_rating.rate_add, name="rating-rate-add"
    ),
    path(
        "rating/tariffs/<int:tariff_id>/rates/<int:rate_id>/",
        views_rating.rate_edit,
        name="rating-rate-edit",
    ),
    path(
        "rating/tariffs/<int:tariff_id>/rates/<int:rate_id>/delete/",
        views_rating.rate_delete,
        name="rating-rate-delete",
    ),
    path(
        "rating/tariffs/<int:tariff_id>/rates/upload/",
        views_rating.rates_upload,
        name="rating-rates-upload",
    ),
    path(
        "rating/tariffs/<int:tariff_id>/rates.csv",
        views_rating.rates_csv,
        name="rating-rates-csv",
    ),
    path(
        "rating/tariffs/<int:tariff_id>/rerate/",
        views_rating.tariff_rerate,
        name="rating-tariff-rerate",
    ),
    path(
        "rating/products/<int:product_id>/entries/add/",
        views_rating.entry_add,
        name="rating-entry-add",
    ),
    path(
        "rating/products/<int:product_id>/entries/<int:entry_id>/",
        views_rating.entry_edit,
        name="rating-entry-edit",
    ),
    path(
        "rating/products/<int:product_id>/entries/<int:entry_id>/delete/",
        views_rating.entry_delete,
        name="rating-entry-delete",
    ),
    path(
        "customers/<int:customer_id>/override-tariffs/",
        views_rating.override_add,
        name="customer-override-add",
    ),
    path(
        "customers/<int:customer_id>/override-tariffs/<int:override_id>/",
        views_rating.override_edit,
        name="customer-override-edit",
    ),
    path(
        "customers/<int:customer_id>/override-tariffs/<int:override_id>/delete/",
        views_rating.override_delete,
        name="customer-override-delete",
    ),
    path(
        "customers/<int:customer_id>/accounts/<int:account_id>/products/",
        views_customer_tabs.customer_account_products,
        name="customer-account-products",
    ),
    # Measured services (issue 14): the customer's tab and the class's tab.
    path(
        "customers/<int:customer_id>/measured-services/<slug:metric>/",
        views_measured.customer_measured_save,
        name="customer-measured-save",
    ),
    path(
        "customers/<int:customer_id>/measured-services/<slug:metric>/inherit/",
        views_measured.customer_measured_inherit,
        name="customer-measured-inherit",
    ),
    path(
        "classes/<int:class_id>/measured-services/<slug:metric>/",
        views_measured.class_measured_save,
        name="class-measured-save",
    ),
    path(
        "classes/<int:class_id>/measured-services/<slug:metric>/delete/",
        views_measured.class_measured_delete,
        name="class-measured-delete",
    ),
    # The DID inventory and the customer's DIDs tab (issue 14).
    path("dids/", views_dids.did_list, name="did-list"),
    path("dids/add/", views_dids.did_add, name="did-add"),
    path("dids/<int:did_id>/", views_dids.did_edit, name="did-edit"),
    path("dids/<int:did_id>/delete/", views_dids.did_delete, name="did-delete"),
    path("dids/<int:did_id>/release/", views_dids.did_release, name="did-release"),
    path("dids/<int:did_id>/account/", views_dids.did_move, name="did-move"),
    path("dids/batches/", views_dids.batch_list, name="did-batch-list"),
    path("dids/batches/<int:batch_id>/", views_dids.batch_edit, name="did-batch-edit"),
    path("dids/batches/<int:batch_id>/delete/", views_dids.batch_delete, name="did-batch-delete"),
    path("dids/groups/", views_dids.group_list, name="did-group-list"),
    path(
        "customers/<int:customer_id>/dids/",
        views_dids.customer_did_assign,
        name="customer-did-assign",
    ),
    # The Web Self-Care tab (issue 16, CU-13).
    path(
        "customers/<int:customer_id>/selfcare/",
        views_selfcare_tab.selfcare_save,
        name="customer-selfcare",
    ),
    path(
        "customers/<int:customer_id>/selfcare/password/",
        views_selfcare_tab.selfcare_generate_password,
        name="customer-selfcare-password",
    ),
    path(
        "customers/<int:customer_id>/selfcare/totp/",
        views_selfcare_tab.selfcare_totp,
        name="customer-selfcare-totp",
    ),
    path(
        "customers/<int:customer_id>/selfcare/sign-in-as/",
        views_selfcare_tab.selfcare_sign_in_as,
        name="customer-selfcare-sign-in-as",
    ),
    # Abbreviated Dialing and Service Configuration (issue 14).
    path(
        "customers/<int:customer_id>/abbreviated-dialing/length/",
        views_features.dialing_length,
        name="customer-dialing-length",
    ),
    path(
        "customers/<int:customer_id>/abbreviated-dialing/",
        views_features.dialing_add,
        name="customer-dialing-add",
    ),
    path(
        "customers/<int:customer_id>/abbreviated-dialing/<int:entry_id>/delete/",
        views_features.dialing_delete,
        name="customer-dialing-delete",
    ),
    path(
        "customers/<int:customer_id>/service-features/",
        views_features.customer_features,
        name="customer-service-features",
    ),
    path(
        "customers/<int:customer_id>/accounts/<int:account_id>/service-features/",
        views_features.account_features,
        name="account-features",
    ),
    path(
        "customers/<int:customer_id>/accounts/<int:account_id>/service-features/extension/",
        views_features.account_extension,
        name="account-extension",
    ),
    path(
        "rating/products/<int:product_id>/service-features/",
        views_features.product_features,
        name="product-features",
    ),
]
