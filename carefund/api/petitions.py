"""JSON API: signing a petition. `POST /api/petitions/{slug}/signatures` takes a signature as the web form does
(pending until the emailed link is confirmed) and answers 202 whatever happened to it: a repeat or rate-limited
signer gets the same answer as a new one. The public reads are `/petitions.json` and `/petitions/{slug}.json`
(e-petitions' shape, served by the web layer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from carefund.core.errors import DomainError, NotFoundError
from carefund.petitions.signing import SignatureInput, signable_petition, signature_sign

router = Router(tags=["petitions"])


class SignatureIn(Schema):
    name: str
    email: str
    postcode: str = ""
    location: str = "GB"
    uk_citizen_or_resident: bool
    notify_by_email: bool = False


class AcceptedOut(Schema):
    status: str
    message: str


class ErrorOut(Schema):
    detail: str
    field: str | None = None


_ACCEPTED = AcceptedOut(
    status="pending", message="Check your email: the signature counts once the link in it is confirmed."
).model_dump_json()


@router.post("/{slug}/signatures", response={202: AcceptedOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
def signature_create(request: HttpRequest, slug: str, payload: SignatureIn) -> Status[dict[str, object]] | HttpResponse:
    try:
        petition = signable_petition(slug=slug)
    except NotFoundError as exc:
        return Status(404, {"detail": exc.message})
    except DomainError as exc:
        return Status(409, {"detail": exc.message})
    data = SignatureInput(
        name=payload.name,
        email=payload.email,
        postcode=payload.postcode,
        location_code=payload.location,
        uk_citizen_or_resident=payload.uk_citizen_or_resident,
        notify_by_email=payload.notify_by_email,
    )
    try:
        signature_sign(petition=petition, data=data, ip=request.META.get("REMOTE_ADDR") or None)
    except DomainError as exc:
        return Status(400, {"detail": exc.message, "field": exc.field})
    # The answer is always the same: made once, and returned as it is (not validated against AcceptedOut again).
    return HttpResponse(_ACCEPTED, status=202, content_type="application/json")
