"""Issue 16: petition signers and creators answer subject-access exports and erasure by email, as donors do. Erasure
anonymises a signer's signatures (the area codes stay, so counts by area still add up) and invalidates one not yet
confirmed, so it can never count; the petition's own counts do not change."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from carefund.core.models import AuditEvent
from carefund.core.privacy import donor_data_erase, donor_data_export
from carefund.petitions.models import Petition, Signature, SignatureState
from carefund.petitions.signing import signature_confirm, signature_sign
from carefund.petitions.tests.factories import make_petition, postcodes, signer

pytestmark = pytest.mark.django_db


def _sign(petition: Petition, n: int, *, confirm: bool = True, **kwargs: object) -> Signature:
    result = signature_sign(petition=petition, data=signer(n, **kwargs), ip="192.0.2.1")
    signature = Signature.objects.get(pk=result.signature_id)
    if confirm:
        signature_confirm(token=signature.token)
    return Signature.objects.get(pk=signature.pk)


def test_a_signers_data_is_exported_and_erased_by_email() -> None:
    postcodes()
    first, second = make_petition(), make_petition(creator_email="Zoe@Example.org", creator_name="Zoe Quinn")
    confirmed = _sign(first, 1, email="zoe@example.org", name="Zoe Quinn")
    pending = _sign(second, 2, email="zoe+petitions@example.org", name="Zoe Quinn", confirm=False)
    other = _sign(first, 3)

    out = io.StringIO()
    call_command("privacy", "export", "--donor", "ZOE@example.org", stdout=out)
    records = json.loads(out.getvalue())["records"]["petitions"]
    signatures = [r for r in records if r["record"] == "signature"]
    assert [(r["petition"], r["state"]) for r in signatures] == [(first.pk, "validated"), (second.pk, "pending")]
    assert {r["postcode"] for r in signatures} == {"CT215AB"} and signatures[0]["ip_address"] == "192.0.2.1"
    assert [r["petition"] for r in records if r["record"] == "petition_created"] == [second.pk]

    areas = (confirmed.constituency_code, confirmed.region_code)
    report = donor_data_erase(email="zoe@example.org")
    assert report.erased["petitions"] == 3  # two signatures, one petition created
    after = Signature.objects.get(pk=confirmed.pk)
    assert (after.name, after.email, after.postcode, after.ip_address) == ("", "", "", None)
    assert after.state == SignatureState.VALIDATED and (after.constituency_code, after.region_code) == areas
    assert Signature.objects.get(pk=pending.pk).state == SignatureState.INVALIDATED  # can never be confirmed now
    creator = Petition.objects.get(pk=second.pk)
    assert (creator.creator_name, creator.creator_email, creator.creator_ip) == ("", "", None)
    assert Signature.objects.get(pk=other.pk).email == "signer3@example.org"
    assert donor_data_export(email="zoe@example.org")["records"]["petitions"] == []
    event = AuditEvent.objects.get(action="privacy.erase")
    assert "zoe" not in (event.summary + json.dumps(event.details)).lower()
