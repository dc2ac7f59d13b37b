"""The lab and AE forms: opened by `/trial lab` / `/trial ae` alone, type-ahead over the
enrolled patients and all CTCAE terms, submitted through the same parser with refusals
shown on their field."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from slack_sdk.models.views import View

from bot.transports.slack import forms


def _view(call) -> dict:
    view = call.params["view"]
    return view if isinstance(view, dict) else json.loads(view)


def _suggest(server, action_id: str, value: str) -> list[dict]:
    answer = server.suggest(action_id, value, forms.AE_CALLBACK)
    assert answer.status == 200
    return answer.json()["options"]


def _state(**values: dict) -> dict:
    return {"values": {block: {block: value} for block, value in values.items()}}


def test_lab_alone_opens_the_form_and_records_nothing(server):
    before = server.counts()
    server.command("lab")
    [opened] = server.fake.called("views.open")
    view = _view(opened)
    View(**view).validate_json()
    assert view["callback_id"] == forms.LAB_CALLBACK
    blocks = [b["block_id"] for b in view["blocks"]]
    analytes = [forms.analyte_block(a) for a in forms.lab_analytes(server.ctx)]
    assert blocks == ["patient", "date", *analytes, "panel", "irae"]
    assert server.counts() == before and server.fake.called("response_url") == []


def test_the_lab_form_has_a_field_for_every_analyte_ctcae_grades(server):
    """Derived from the grading data: every analyte with CTCAE lab criteria, its unit."""
    server.command("lab")
    view = _view(server.fake.called("views.open")[0])
    labels = {b["block_id"]: b["label"]["text"] for b in view["blocks"]}
    graded = set(server.ctx.rules.ctcae.lab)
    assert {b.removeprefix("lab_") for b in labels if b.startswith("lab_")} == graded
    assert labels["lab_anc"] == "ANC (10^9/L)" and labels["lab_alt"] == "ALT (U/L)"
    assert {"lab_plt", "lab_hb", "lab_wbc", "lab_ast", "lab_tbil", "lab_cr"} <= set(labels)


def test_a_bad_analyte_value_is_refused_on_its_own_field(server):
    before = server.counts()
    view = {
        "type": "modal",
        "callback_id": forms.LAB_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": server.sid}},
            lab_anc={"value": "0.4"},
            lab_plt={"value": "lots"},
            lab_alt={"value": "130 PLT 62"},
        ),
    }
    body = server.submit_view(view, user=server.nurse).json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"lab_plt", "lab_alt"}
    assert "number" in body["errors"]["lab_plt"]
    assert "one ALT result here" in body["errors"]["lab_alt"]
    assert server.counts() == before


def test_an_empty_lab_form_asks_for_a_result(server):
    view = {
        "type": "modal",
        "callback_id": forms.LAB_CALLBACK,
        "state": _state(patient={"selected_option": {"value": server.sid}}),
    }
    body = server.submit_view(view, user=server.nurse).json()
    assert body["errors"] == {"lab_anc": "Enter at least one result."}


def test_analyte_fields_record_like_the_typed_command(server):
    view = {
        "type": "modal",
        "callback_id": forms.LAB_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": server.sid}},
            lab_anc={"value": "0.4"},
            lab_plt={"value": "62"},
            lab_alt={"value": "130 U/L (7-40)"},
        ),
    }
    assert server.submit_view(view, user=server.nurse).body == ""
    [event] = [e for e in server.events() if e["kind"] == "lab"]
    assert {r["analyte"] for r in event["results"]} == {"anc", "plt", "alt"}
    reply = next(
        p for p in server.fake.called("chat.postMessage") if p.params["channel"] == "D0NURSE01"
    )
    assert "Neutrophil count decreased" in reply.text_of_blocks()


def test_dose_alone_opens_the_dose_form_which_records_like_the_typed_command(server):
    server.command("dose")
    view = _view(server.fake.called("views.open")[0])
    View(**view).validate_json()
    assert view["callback_id"] == forms.DOSE_CALLBACK
    drugs = next(b for b in view["blocks"] if b["block_id"] == forms.DRUG)
    assert "cisplatin" in [o["value"] for o in drugs["element"]["options"]]
    submitted = {
        "type": "modal",
        "callback_id": forms.DOSE_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": server.sid}},
            drug={"selected_option": {"value": "cisplatin"}},
            status={"selected_option": {"value": "held"}},
            mg={"value": "5000"},
        ),
    }
    body = server.submit_view(submitted, user=server.nurse).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["mg"]
    del submitted["state"]["values"]["mg"]
    submitted["state"]["values"]["reason"] = {"reason": {"value": "neutropenia"}}
    assert server.submit_view(submitted, user=server.nurse).body == ""
    [dose] = [e for e in server.events() if e["kind"] == "dose"]
    assert dose["drug"] == "cisplatin" and dose["status"] == "held"


def test_type_ahead_offers_enrolled_patients_and_ctcae_terms(server):
    assert [o["value"] for o in _suggest(server, forms.PATIENT, "lacc")] == [server.sid]
    terms = [o["value"] for o in _suggest(server, forms.TERM, "diarr")]
    assert terms[0] == "Diarrhea"


def test_every_ctcae_term_can_be_found_by_its_name(slack):
    ctx = slack.transport.ctx
    names = [t.term for t in ctx.rules.ctcae.terms]
    assert len(names) == 837
    for name in names:
        assert name in [o["value"] for o in forms.term_options(ctx, name)], name


def test_choosing_a_term_shows_its_grades_with_their_ctcae_text(server):
    payload = {
        "type": "block_actions",
        "user": {"id": server.nurse},
        "team": {"id": "T0TEAM001"},
        "api_app_id": "A0APP0001",
        "trigger_id": "7.7.trigger",
        "view": {
            "id": "V0FORM001",
            "hash": "h1",
            "type": "modal",
            "callback_id": forms.AE_CALLBACK,
        },
        "actions": [
            {
                "type": "external_select",
                "action_id": forms.TERM,
                "block_id": forms.TERM,
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Diarrhea"},
                    "value": "Diarrhea",
                },
            }
        ],
    }
    server.send(
        urlencode({"payload": json.dumps(payload)}),
        content_type="application/x-www-form-urlencoded",
    )
    [update] = server.fake.called("views.update")
    view = _view(update)
    View(**view).validate_json()
    grade = next(b for b in view["blocks"] if b["block_id"] == forms.GRADE)
    labels = [o["text"]["text"] for o in grade["element"]["options"]]
    assert labels[3].startswith("3 — Increase of >=7 stools per day")


def test_a_lab_form_with_a_bad_patient_shows_the_error_on_the_patient_field(server):
    before = server.counts()
    view = {
        "type": "modal",
        "callback_id": forms.LAB_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": "NOPE-1"}}, panel={"value": "ANC 0.4"}
        ),
    }
    answer = server.submit_view(view, user=server.nurse)
    body = answer.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["patient"]
    assert "NOPE-1" in body["errors"]["patient"]
    assert server.counts()["event"] == before["event"]


def test_a_lab_form_records_like_the_typed_command_and_replies_by_dm(server):
    view = {
        "type": "modal",
        "callback_id": forms.LAB_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": server.sid}},
            date={"selected_date": "2027-03-05"},
            panel={"value": "ANC 0.4\nPLT 62"},
        ),
    }
    answer = server.submit_view(view, user=server.nurse)
    assert answer.status == 200 and answer.body == ""
    posts = server.fake.called("chat.postMessage")
    reply = next(p for p in posts if p.params["channel"] == "D" + server.nurse[1:])
    assert "Neutrophil count decreased" in reply.text_of_blocks()
    assert {p.params["channel"] for p in posts} >= {server.study, "D" + server.doctor[1:]}


def test_an_ae_form_without_a_grade_is_refused_on_the_grade_field(server):
    view = {
        "type": "modal",
        "callback_id": forms.AE_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": server.sid}},
            term={"selected_option": {"value": "Diarrhea"}},
        ),
    }
    body = server.submit_view(view, user=server.nurse).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["grade"]
    view["state"] = _state(
        patient={"selected_option": {"value": server.sid}},
        term={"selected_option": {"value": "Diarrhea"}},
        grade={"selected_option": {"value": "3"}},
        irae={"selected_option": {"value": "yes"}},
    )
    assert server.submit_view(view, user=server.nurse).body == ""
    reply = next(
        p for p in server.fake.called("chat.postMessage") if p.params["channel"] == "D0NURSE01"
    )
    assert "Diarrhea" in reply.text_of_blocks()
