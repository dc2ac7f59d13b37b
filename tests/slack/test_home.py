"""App Home: opening the Home tab publishes the user's site's day."""

from __future__ import annotations

from slack_sdk.models.views import View


def test_home_shows_due_today_awaiting_decisions_and_holds(server):
    server.command(f"lab {server.sid} ANC 0.4 PLT 62")  # a reduction awaiting confirmation
    server.fake.reset()
    event = {"type": "app_home_opened", "user": server.doctor, "tab": "home"}
    assert server.event(event).status == 200
    [published] = server.fake.called("views.publish")
    assert published.params["user_id"] == server.doctor
    view = published.params["view"]
    view = view if isinstance(view, dict) else __import__("json").loads(view)
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100
    text = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert "Due today" in text and "site main" in text
    assert "D1" in text and "cisplatin" in text  # the decision awaiting the investigator
    assert "Holds and reductions at site main" in text


def test_the_messages_tab_publishes_nothing(server):
    event = {"type": "app_home_opened", "user": server.doctor, "tab": "messages"}
    assert server.event(event).status == 200
    assert server.fake.called("views.publish") == []


def test_home_buttons_open_the_lab_ae_and_dose_forms(server):
    event = {"type": "app_home_opened", "user": server.nurse, "tab": "home"}
    server.event(event)
    view = server.fake.called("views.publish")[0].params["view"]
    view = view if isinstance(view, dict) else __import__("json").loads(view)
    [buttons] = [b for b in view["blocks"] if b["type"] == "actions"]
    actions = [e["action_id"] for e in buttons["elements"]]
    assert actions == ["home_open_lab", "home_open_ae", "home_open_dose"]
    for action, callback in zip(actions, ("form_lab", "form_ae", "form_dose"), strict=True):
        server.fake.reset()
        assert (
            server.click(action, action.removeprefix("home_open_"), user=server.nurse).status == 200
        )
        [opened] = server.fake.called("views.open")
        form = opened.params["view"]
        form = form if isinstance(form, dict) else __import__("json").loads(form)
        assert form["callback_id"] == callback
        assert opened.params["trigger_id"].endswith(".trigger")
