"""Campaign photos: what is kept of an upload (carefund/campaigns/photos.py), who may add and remove them, and the
public page that shows them (issue 5: "a story, photos, updates by the family or caseworker")."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from carefund.campaigns import photos, rules, services
from carefund.campaigns.models import Campaign, CampaignPhoto, CampaignState
from carefund.campaigns.tests.factories import caseworker, make_campaign
from carefund.care.tests.factories import user_with_role
from carefund.core.errors import PermissionDeniedError, ValidationError
from carefund.core.models import AuditEvent

pytestmark = pytest.mark.django_db

GPS_TAG = 0x8825  # the EXIF pointer to a photo's GPS position
ORIENTATION_TAG = 0x0112


def _jpeg(width: int = 40, height: int = 20, *, orientation: int | None = None, gps: bool = False) -> bytes:
    """A JPEG as a phone writes it: left half red, right half blue, with EXIF (a camera, maybe a GPS position and an
    orientation that says "turn me")."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        exif[GPS_TAG] = {1: "N", 2: (52.0, 57.0, 1.0), 3: "W", 4: (1.0, 9.0, 2.0)}  # Nottingham
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# --- what is kept ---------------------------------------------------------------------------------------------------


def test_a_photo_is_kept_as_a_jpeg_without_its_location_or_camera_details() -> None:
    original = _jpeg(gps=True)
    assert GPS_TAG in _open(original).getexif()  # the upload carries a position
    kept = photos.prepare_photo(original)
    image = _open(kept.jpeg)
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert (kept.width, kept.height) == image.size == (40, 20)


def test_a_photo_taken_sideways_is_turned_upright() -> None:
    kept = photos.prepare_photo(_jpeg(40, 20, orientation=6))  # 6: rotate 90 degrees clockwise to view
    image = _open(kept.jpeg).convert("RGB")
    assert image.size == (20, 40)
    top, bottom = image.getpixel((10, 2)), image.getpixel((10, 37))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_a_phones_multi_picture_jpeg_is_accepted_and_only_its_first_picture_kept() -> None:
    first, second = Image.new("RGB", (30, 20), (0, 200, 0)), Image.new("RGB", (8, 6), (0, 0, 0))
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second])
    assert _open(out.getvalue()).format == "MPO"
    kept = photos.prepare_photo(out.getvalue())
    image = _open(kept.jpeg)
    assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("JPEG", (30, 20), 1)


def test_a_large_photo_is_scaled_down_and_keeps_its_shape() -> None:
    kept = photos.prepare_photo(_jpeg(3200, 2400))
    assert (kept.width, kept.height) == (rules.PHOTO_MAX_SIDE, 1200)


def test_a_transparent_png_becomes_a_jpeg_on_white() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    kept = _open(photos.prepare_photo(out.getvalue()).jpeg).convert("RGB")
    assert min(kept.getpixel((5, 5))) > 245


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "choose a photo"),
        (b"<script>alert(1)</script>", "not a photo carefund can read"),
        (_jpeg()[:300], "damaged or cut short"),
    ],
)
def test_what_is_not_a_readable_photo_is_refused_with_what_to_do(data: bytes, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        photos.prepare_photo(data)
    assert says in caught.value.message and caught.value.field == "image"


def test_a_photo_that_cannot_be_converted_is_refused_not_a_server_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot(*args: Any, **kwargs: Any) -> None:
        raise OSError("encoder error -2")

    upload = _jpeg()
    monkeypatch.setattr(Image.Image, "save", cannot)
    with pytest.raises(ValidationError, match="colours could not be converted for the web"):
        photos.prepare_photo(upload)


def test_a_gif_is_refused_by_name() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="GIF")
    with pytest.raises(ValidationError, match="a GIF is not accepted; send a JPEG, PNG or WebP photo"):
        photos.prepare_photo(out.getvalue())


def test_too_many_pixels_or_bytes_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "PHOTO_MAX_PIXELS", 100)
    with pytest.raises(ValidationError, match="40 x 20 pixels is more than"):
        photos.prepare_photo(_jpeg())
    monkeypatch.setattr(rules, "PHOTO_MAX_UPLOAD_BYTES", 100)
    with pytest.raises(ValidationError, match="at most 0 MB"):
        photos.prepare_photo(_jpeg())


# --- who adds and removes -------------------------------------------------------------------------------------------


def _guardian(campaign: Campaign) -> Any:
    user = user_with_role(None)
    campaign.child.guardians.add(user)
    return user


def test_the_childs_guardian_adds_a_photo_and_it_is_audited() -> None:
    campaign = make_campaign()
    guardian = _guardian(campaign)
    photo = services.campaign_photo_add(
        campaign=campaign, data=_jpeg(gps=True), alt_text=" James at physio ", caption="Week 3", actor=guardian
    )
    photo.refresh_from_db()
    assert (photo.alt_text, photo.caption, photo.added_by) == ("James at physio", "Week 3", guardian)
    assert dict(_open(bytes(photo.image)).getexif()) == {}
    audit = AuditEvent.objects.get(action="campaign.photo_add")
    assert audit.actor == guardian and audit.details["token"] == photo.token


def test_a_stranger_may_not_add_or_remove_a_photo() -> None:
    campaign = make_campaign()
    photo = services.campaign_photo_add(campaign=campaign, data=_jpeg(), alt_text="A photo", actor=caseworker())
    stranger = user_with_role(None)
    with pytest.raises(PermissionDeniedError):
        services.campaign_photo_add(campaign=campaign, data=_jpeg(), alt_text="Mine", actor=stranger)
    with pytest.raises(PermissionDeniedError):
        services.campaign_photo_remove(campaign=campaign, token=photo.token, actor=stranger)
    assert CampaignPhoto.objects.count() == 1


@pytest.mark.parametrize(
    ("alt_text", "caption", "says"),
    [
        ("  ", "", "alt_text: say in a few words what the photo shows"),
        ("A photo", "<b>bold</b>", "caption:"),
        ("x" * 201, "", "alt_text: at most 200 characters"),
    ],
)
def test_a_photo_needs_a_description_and_plain_text(alt_text: str, caption: str, says: str) -> None:
    campaign = make_campaign()
    with pytest.raises(ValidationError, match=says):
        services.campaign_photo_add(
            campaign=campaign, data=_jpeg(), alt_text=alt_text, caption=caption, actor=caseworker()
        )
    assert not CampaignPhoto.objects.exists()


def test_a_campaign_shows_at_most_its_limit_of_photos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "PHOTOS_PER_CAMPAIGN", 2)
    campaign, worker = make_campaign(), caseworker()
    for n in range(2):
        services.campaign_photo_add(campaign=campaign, data=_jpeg(), alt_text=f"Photo {n}", actor=worker)
    with pytest.raises(ValidationError, match="at most 2 photos; remove one first"):
        services.campaign_photo_add(campaign=campaign, data=_jpeg(), alt_text="One more", actor=worker)


# --- the pages ------------------------------------------------------------------------------------------------------


def test_a_caseworker_uploads_a_photo_and_the_public_page_shows_and_shares_it(client: Client) -> None:
    campaign = make_campaign()
    client.force_login(caseworker())
    upload = io.BytesIO(_jpeg(gps=True))
    upload.name = "IMG_0042.jpg"
    response = client.post(
        f"/campaigns/{campaign.slug}/photos/",
        {"image": upload, "alt_text": "James standing in his frame", "caption": "First steps"},
    )
    assert response.status_code == 302
    photo = CampaignPhoto.objects.get()
    client.logout()
    page = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    src = f"/campaigns/{campaign.slug}/photos/{photo.token}.jpg"
    assert f'<img src="{src}" alt="James standing in his frame" width="40" height="20"' in page
    assert "<figcaption>First steps</figcaption>" in page
    assert f'<meta property="og:image" content="http://testserver{src}">' in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page
    image = client.get(src)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert dict(_open(image.content).getexif()) == {}


def test_a_photo_of_a_campaign_that_is_not_public_is_not_found(client: Client) -> None:
    campaign = make_campaign(state=CampaignState.DRAFT)
    photo = services.campaign_photo_add(campaign=campaign, data=_jpeg(), alt_text="A photo", actor=caseworker())
    assert client.get(f"/campaigns/{campaign.slug}/photos/{photo.token}.jpg").status_code == 404
    assert client.get(f"/campaigns/{campaign.slug}/photos/not-a-token.jpg").status_code == 404


def test_a_removed_photo_leaves_the_page_and_its_address(client: Client) -> None:
    campaign = make_campaign()
    worker = caseworker()
    photo = services.campaign_photo_add(campaign=campaign, data=_jpeg(), alt_text="A photo", actor=worker)
    client.force_login(worker)
    assert client.post(f"/campaigns/{campaign.slug}/photos/", {"remove": photo.token}).status_code == 302
    assert client.get(f"/campaigns/{campaign.slug}/photos/{photo.token}.jpg").status_code == 404
    assert photo.token not in client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert AuditEvent.objects.filter(action="campaign.photo_remove", actor=worker).exists()


def test_a_bad_upload_is_answered_with_what_to_fix_and_nothing_is_kept(client: Client) -> None:
    campaign = make_campaign()
    client.force_login(caseworker())
    upload = io.BytesIO(b"%PDF-1.7 not a photo")
    upload.name = "letter.pdf"
    response = client.post(f"/campaigns/{campaign.slug}/photos/", {"image": upload, "alt_text": "A letter"})
    assert response.status_code == 400
    assert "this file is not a photo carefund can read (JPEG, PNG or WebP)." in response.content.decode()
    assert not CampaignPhoto.objects.exists()


def test_only_the_family_and_caseworkers_reach_the_photos_page(client: Client) -> None:
    campaign = make_campaign()
    url = f"/campaigns/{campaign.slug}/photos/"
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(user_with_role(None))
    assert client.get(url).status_code == 404
    client.force_login(_guardian(campaign))
    assert client.get(url).status_code == 200


def test_the_api_lists_a_public_campaigns_photos_with_their_descriptions() -> None:
    campaign = make_campaign()
    photo = services.campaign_photo_add(
        campaign=campaign, data=_jpeg(), alt_text="James at physio", caption="Week 3", actor=caseworker()
    )
    detail = Client().get(f"/api/campaigns/{campaign.slug}").json()
    assert detail["photos"] == [
        {
            "url": f"http://testserver/campaigns/{campaign.slug}/photos/{photo.token}.jpg",
            "alt_text": "James at physio",
            "caption": "Week 3",
            "width": 40,
            "height": 20,
        }
    ]


def test_an_upload_too_large_is_refused_on_the_form_before_it_is_read(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "PHOTO_MAX_UPLOAD_BYTES", 100)
    monkeypatch.setattr(photos, "prepare_photo", lambda data: pytest.fail("the upload was read and decoded"))
    campaign = make_campaign()
    client.force_login(caseworker())
    upload = io.BytesIO(_jpeg())
    upload.name = "big.jpg"
    response = client.post(f"/campaigns/{campaign.slug}/photos/", {"image": upload, "alt_text": "Big"})
    assert response.status_code == 400
    assert "at most 0 MB; this file is 0.0 MB." in response.content.decode()
    assert not CampaignPhoto.objects.exists()
