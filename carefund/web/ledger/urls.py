from django.urls import URLPattern, URLResolver, path

from carefund.web.ledger import views

app_name = "ledger"

urlpatterns: list[URLPattern | URLResolver] = [
    path("ledger/", views.balances, name="balances"),
    path("ledger/transactions/<int:pk>/", views.transaction_detail, name="transaction"),
    path("ledger/journal/", views.journal, name="journal"),
    path("ledger/journal/<int:pk>/decide/", views.journal_decide, name="journal_decide"),
]
