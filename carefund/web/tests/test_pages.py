import pytest

pytestmark = pytest.mark.django_db


def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Fund a child" in response.content


def test_health(client):
    assert client.get("/health/").json() == {"status": "ok"}


def test_openapi_schema_served(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "carefund API"


def test_login_is_rate_limited(client, django_user_model, settings):
    django_user_model.objects.create_user("alice", password="correct-horse-battery")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    response = client.post("/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_home_page_links_to_the_economic_case(client):
    response = client.get("/")
    assert b'href="/economics/sdr/"' in response.content
    assert client.get("/economics/sdr/").status_code == 200
