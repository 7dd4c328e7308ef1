"""Surplus: the published surplus statement (Code of Fundraising Practice 2.7.5), and moving what a child's fund no
longer needs to the children in most urgent need under it: proposed by one person, approved by another (four eyes),
posted in the ledger, the waterfalls recomputed, and the source child's donors told. docs/adr/0010."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail import send_mail
from django.db import transaction

from carefund.care.models import Child
from carefund.core import clock
from carefund.core.errors import FourEyesError, PermissionDeniedError, StateTransitionError, ValidationError
from carefund.core.money import format_pence, require_pence
from carefund.core.people import person_ref
from carefund.core.services import audit_record
from carefund.funding import rules
from carefund.funding.models import SurplusPolicy, SurplusTransfer, SurplusTransferApproval, SurplusTransferLine
from carefund.funding.selectors import funding_input_for_child, urgency_candidates
from carefund.funding.services import require_perm, waterfall_recompute_for_child


class NoSurplusError(ValidationError):
    """A transfer was proposed from a fund with no (or not enough) surplus."""


class IneligibleRecipientError(ValidationError):
    """A transfer named a child who is not eligible under the surplus policy."""


@transaction.atomic
def surplus_policy_publish(
    *, wording: str, contingency_basis_points: int, actor: Any, eligibility_policy: str = "nhse-2018"
) -> SurplusPolicy:
    """Publish a new version of the surplus statement; campaign pages show the current one."""
    require_perm(actor, "funding.add_surpluspolicy", "publish the surplus policy")
    wording = (wording or "").strip()
    if len(wording) < 40:
        raise ValidationError(
            "wording: say what happens to money over the target or when the target is not reached "
            "(Code of Fundraising Practice 2.7.5), in at least 40 characters.",
            field="wording",
        )
    if not 0 <= contingency_basis_points <= 5000:
        raise ValidationError(
            "contingency_basis_points: must be between 0 and 5000 (0% to 50%).", field="contingency_basis_points"
        )
    from carefund.care.rules import POLICIES

    if eligibility_policy not in POLICIES:
        raise ValidationError(
            f"eligibility_policy: '{eligibility_policy}' is not one of {', '.join(POLICIES)}.",
            field="eligibility_policy",
        )
    current = SurplusPolicy.objects.order_by("-version").first()
    if (
        current is not None
        and current.wording == wording
        and current.contingency_basis_points == contingency_basis_points
        and current.eligibility_policy == eligibility_policy
    ):
        return current
    policy = SurplusPolicy.objects.create(
        version=(current.version + 1) if current else 1,
        wording=wording,
        contingency_basis_points=contingency_basis_points,
        eligibility_policy=eligibility_policy,
        published_at=clock.now(),
        published_by=actor,
    )
    audit_record(actor=actor, action="surplus_policy.published", target=policy, summary=f"version {policy.version}")
    return policy


def _current_policy() -> SurplusPolicy:
    policy = SurplusPolicy.objects.order_by("-version").first()
    if policy is None:
        raise ValidationError(
            "policy: no surplus policy is published; a trustee must publish one first.", field="policy"
        )
    return policy


def _source_surplus(child: Child) -> tuple[int, int]:
    inp = funding_input_for_child(child)
    return inp.fund_balance_pence, rules.waterfall(inp).surplus_pence


@transaction.atomic
def surplus_transfer_propose(
    *,
    source_child: Child,
    actor: Any,
    amounts: Sequence[tuple[Child, int]] | None = None,
    reason: str = "",
) -> SurplusTransfer:
    """Propose moving a fund's surplus to children in urgent need, snapshotting the ranking with its reasons.

    Without `amounts`, the surplus goes down the ranking, filling each child's gap in turn."""
    require_perm(actor, "funding.add_surplustransfer", "propose surplus transfers")
    if actor is None:
        raise PermissionDeniedError("proposer: a transfer must be proposed by a named person (four eyes).")
    policy = _current_policy()
    balance, available = _source_surplus(source_child)
    if available <= 0:
        raise NoSurplusError(
            f"source_child: {source_child.public_name}'s fund has no surplus (balance {format_pence(balance)}, "
            "all of it needed by the remaining plan and its contingency).",
            field="source_child",
        )
    ranking = rules.rank_urgency(
        [c for c in urgency_candidates(policy=policy) if c.child_id != source_child.pk], today=clock.today()
    )
    by_id = {r.child_id: r for r in ranking.ranked}
    excluded = {cid: why for cid, _, why in ranking.excluded}
    chosen: list[tuple[int, int]]
    if amounts is None:
        chosen = rules.fill_down_ranking(ranking.ranked, available_pence=available)
        if not chosen:
            raise IneligibleRecipientError(
                "recipients: no child is eligible under the surplus policy now.", field="recipients"
            )
    else:
        chosen = []
        for child, amount in amounts:
            require_pence(amount, field="amount_pence")
            if child.pk == source_child.pk:
                raise IneligibleRecipientError("recipients: a fund cannot transfer to itself.", field="recipients")
            if child.pk not in by_id:
                why = excluded.get(child.pk, "not a candidate")
                raise IneligibleRecipientError(
                    f"recipients: {child.public_name} is not eligible under the surplus policy: {why}.",
                    field="recipients",
                )
            if amount > by_id[child.pk].gap_pence:
                raise ValidationError(
                    f"amount_pence: {format_pence(amount)} is more than {child.public_name}'s gap "
                    f"{format_pence(by_id[child.pk].gap_pence)}.",
                    field="amount_pence",
                )
            chosen.append((child.pk, amount))
        if len({cid for cid, _ in chosen}) != len(chosen):
            raise ValidationError("recipients: name each child once.", field="recipients")
    total = sum(a for _, a in chosen)
    if total > available:
        raise NoSurplusError(
            f"amount_pence: {format_pence(total)} is more than the surplus {format_pence(available)} of "
            f"{source_child.public_name}'s fund.",
            field="amount_pence",
        )
    snapshot = [
        {
            "child_id": r.child_id,
            "name": r.name,
            "rank": r.rank,
            "points": r.points,
            "gap_pence": r.gap_pence,
            "reasons": list(r.reasons),
        }
        for r in ranking.ranked
    ]
    transfer = SurplusTransfer.objects.create(
        source_child=source_child,
        policy=policy,
        proposed_by=actor,
        proposed_at=clock.now(),
        source_balance_pence=balance,
        source_surplus_pence=available,
        ranking={"ranked": snapshot, "excluded": [list(e) for e in ranking.excluded], "on": clock.today().isoformat()},
        reason=reason.strip()
        or f"Surplus of {source_child.public_name}'s fund under surplus policy v{policy.version}.",
    )
    for cid, amount in chosen:
        r = by_id[cid]
        SurplusTransferLine.objects.create(
            transfer=transfer, recipient_id=cid, amount_pence=amount, rank=r.rank, reasons=list(r.reasons)
        )
    audit_record(
        actor=actor,
        action="surplus_transfer.proposed",
        target=transfer,
        summary=f"{format_pence(total)} from {person_ref('child', source_child.pk)} to {len(chosen)} child(ren)",
        details={"amounts": {str(c): a for c, a in chosen}},
    )
    return transfer


@transaction.atomic
def surplus_transfer_approve(*, transfer: SurplusTransfer, actor: Any) -> SurplusTransfer:
    """Approve a proposal; the second approval by a different person (neither the proposer) posts it to the
    ledger, recomputes the waterfalls and, after commit, emails the source fund's donors what happened and why."""
    from carefund.ledger import chart
    from carefund.ledger.rules import PostingSpec
    from carefund.ledger.services import account_open, ledger_post

    require_perm(actor, "funding.approve_surplustransfer", "approve surplus transfers")
    if actor is None:
        raise PermissionDeniedError("approver: an approval must be given by a named person.")
    locked = SurplusTransfer.objects.select_for_update().select_related("source_child", "policy").get(pk=transfer.pk)
    if locked.state != SurplusTransfer.State.PROPOSED:
        raise StateTransitionError("state: this transfer is already approved and posted.", field="state")
    if locked.proposed_by_id == actor.pk:
        raise FourEyesError("approver: you proposed this transfer; two other people must approve it.")
    if locked.approvals.filter(approver=actor).exists():
        raise FourEyesError("approver: you have already approved this transfer; a second, different person must.")
    source = locked.source_child
    lines = list(locked.lines.select_related("recipient"))
    total = sum(line.amount_pence for line in lines)
    if locked.approvals.count() + 1 >= 2:
        # Lock the source and every recipient (in one order: no deadlock), so two transfers cannot both fill the
        # same gap, then check again what was true when it was proposed: the source still has the surplus, and
        # each recipient is still eligible with a gap at least the amount (a gift or another transfer may have
        # closed it since).
        locked_ids = sorted({source.pk, *(line.recipient_id for line in lines)})
        list(Child.objects.select_for_update().filter(pk__in=locked_ids).order_by("pk").values_list("pk", flat=True))
        _, available = _source_surplus(source)
        if total > available:
            raise NoSurplusError(
                f"amount_pence: the surplus of {source.public_name}'s fund is now {format_pence(available)}, less than "
                f"the {format_pence(total)} proposed; propose again.",
                field="amount_pence",
            )
        _check_recipients_still_eligible(locked, lines)
    SurplusTransferApproval.objects.create(transfer=locked, approver=actor, approved_at=clock.now())
    audit_record(
        actor=actor, action="surplus_transfer.approved", target=locked, summary=f"approval {locked.approvals.count()}"
    )
    if locked.approvals.count() < 2:
        return locked
    src_account = chart.child_fund(source.pk)
    account_open(name=src_account, description=f"Restricted fund of child #{source.pk}", child_id=source.pk)
    postings = [PostingSpec(account=src_account, amount_pence=total)]
    for line in lines:
        name = chart.child_fund(line.recipient_id)
        account_open(
            name=name, description=f"Restricted fund of child #{line.recipient_id}", child_id=line.recipient_id
        )
        postings.append(PostingSpec(account=name, amount_pence=-line.amount_pence))
    txn = ledger_post(
        kind="surplus_transfer",
        postings=postings,
        memo=f"Surplus transfer #{locked.pk} from child #{source.pk} under surplus policy v{locked.policy.version}",
        on_date=clock.today(),
        idempotency_key=f"funding-surplus-transfer-{locked.pk}",
        group_id=f"surplus-transfer-{locked.pk}",
        actor=actor,
        metadata={"surplus_transfer_id": locked.pk, "source_child_id": source.pk},
    )
    locked.state = SurplusTransfer.State.POSTED
    locked.ledger_transaction_id = txn.pk
    locked.posted_at = clock.now()
    locked.save(update_fields=["state", "ledger_transaction_id", "posted_at"])
    audit_record(
        actor=actor,
        action="surplus_transfer.posted",
        target=locked,
        summary=f"{format_pence(total)} moved from {person_ref('child', source.pk)}'s fund",
        details={"ledger_transaction_id": txn.pk},
    )
    waterfall_recompute_for_child(child=source, reason=f"surplus transfer #{locked.pk} out", actor=actor)
    for line in lines:
        waterfall_recompute_for_child(child=line.recipient, reason=f"surplus transfer #{locked.pk} in", actor=actor)
    transfer_id = locked.pk
    transaction.on_commit(lambda: surplus_transfer_notify_donors(transfer_id=transfer_id))
    return locked


def _check_recipients_still_eligible(transfer: SurplusTransfer, lines: Sequence[SurplusTransferLine]) -> None:
    """Refuse (IneligibleRecipientError) if a recipient is no longer eligible or their gap is now smaller."""
    ids = [line.recipient_id for line in lines]
    ranking = rules.rank_urgency(urgency_candidates(policy=transfer.policy, child_ids=ids), today=clock.today())
    gaps = {r.child_id: r.gap_pence for r in ranking.ranked}
    excluded = {cid: why for cid, _, why in ranking.excluded}
    for line in lines:
        name = line.recipient.public_name
        if line.recipient_id not in gaps:
            why = excluded.get(line.recipient_id, "not a candidate")
            raise IneligibleRecipientError(
                f"recipients: {name} is no longer eligible under the surplus policy ({why}); propose again.",
                field="recipients",
            )
        if line.amount_pence > gaps[line.recipient_id]:
            raise IneligibleRecipientError(
                f"amount_pence: {name}'s gap is now {format_pence(gaps[line.recipient_id])}, less than the "
                f"{format_pence(line.amount_pence)} proposed; propose again.",
                field="amount_pence",
            )


def surplus_transfer_letter(*, transfer: SurplusTransfer) -> str:
    """The letter to the source fund's donors: what happened and why.

    It goes to members of the public, so a recipient is named only if their guardians consented to publicity, and
    the ranking's reasons (which carry a child's age-limit date, derived from their birthday, and their surgery
    date) stay with the staff who approved it; the policy wording says what the ranking weighs."""
    source = transfer.source_child
    recipients = ", ".join(
        f"{line.recipient.public_name if line.recipient.publicity_consent else 'another child'} "
        f"({format_pence(line.amount_pence)}, ranked {line.rank} in urgency)"
        for line in transfer.lines.select_related("recipient").order_by("rank", "pk")
    )
    return (
        f"Thank you for giving to {source.public_name}'s fund.\n\n"
        f"{source.public_name}'s care plan is funded and {format_pence(transfer.amount_pence)} was not needed. "
        f"Under our published surplus policy (version {transfer.policy.version}) it has gone to children in urgent "
        f"need, chosen by an open ranking and approved by two people: {recipients}.\n\n"
        f"Our surplus policy: {transfer.policy.wording}\n"
    )


def surplus_transfer_notify_donors(*, transfer_id: int) -> int:
    """Email each donor of the source fund what happened and why (runs after commit). Returns emails sent."""
    from carefund.campaigns.selectors import donors_for_child

    transfer = SurplusTransfer.objects.select_related("source_child", "policy").get(pk=transfer_id)
    source = transfer.source_child
    body = surplus_transfer_letter(transfer=transfer)
    sent = 0
    for donor in donors_for_child(child_id=source.pk):
        greeting = f"Dear {donor['name']},\n\n" if donor.get("name") else ""
        send_mail(
            subject=f"What happened to the money left over in {source.public_name}'s fund",
            message=greeting + body,
            from_email=None,
            recipient_list=[donor["email"]],
        )
        sent += 1
    return sent
