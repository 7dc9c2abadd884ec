from tests.conftest import login


def test_officer_sees_only_their_grid_villages(client, world):
    login(client, world.officer)
    resp = client.get("/villages")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "金星村" in body and "龙门村" in body
    assert "桃源村" not in body and "天马村" not in body and "乌兰嘎查" not in body
