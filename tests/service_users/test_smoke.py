async def test_create_then_get(users_client):
    created = await users_client.post("/users", json={"email": "a@example.com", "name": "A"})
    assert created.status_code == 201
    user_id = created.json()["data"]["id"]
    fetched = await users_client.get(f"/users/{user_id}")
    assert fetched.json()["data"]["email"] == "a@example.com"


def test_real_process(users_process):
    import httpx

    response = httpx.get(f"{users_process.url}/users")
    assert response.status_code == 200
