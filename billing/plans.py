"""The plan catalogue, in code: limits (None = unlimited) and features per plan.

Stripe holds one monthly price per paid plan, found by its lookup key (``billing_sync`` creates or
updates them); the organisation's effective plan is ``Organisation.plan``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LIMITS = ("active_surveys", "responses_per_month", "seats")
FEATURES = ("pii_encryption", "webhooks", "export_xlsx", "export_spss", "custom_branding", "custom_domain")


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    # Monthly price in the smallest currency unit; 0: not sold through Stripe.
    amount: int
    active_surveys: int | None
    responses_per_month: int | None
    seats: int | None
    features: frozenset[str] = field(default_factory=frozenset)
    currency: str = "eur"

    @property
    def lookup_key(self) -> str:
        return f"survey_{self.key}_monthly"

    @property
    def product_id(self) -> str:
        return f"survey_plan_{self.key}"

    @property
    def purchasable(self) -> bool:
        return self.amount > 0

    def limit(self, name: str) -> int | None:
        if name not in LIMITS:
            raise KeyError(name)
        value: int | None = getattr(self, name)
        return value

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "name": self.name,
            "amount": self.amount,
            "currency": self.currency,
            "limits": {name: self.limit(name) for name in LIMITS},
            "features": sorted(self.features),
        }


PLANS: dict[str, Plan] = {
    plan.key: plan
    for plan in (
        Plan(key="free", name="Free", amount=0, active_surveys=3, responses_per_month=100, seats=2),
        Plan(
            key="team",
            name="Team",
            amount=2900,
            active_surveys=20,
            responses_per_month=5_000,
            seats=10,
            features=frozenset({"webhooks", "export_xlsx", "custom_branding"}),
        ),
        Plan(
            key="business",
            name="Business",
            amount=9900,
            active_surveys=100,
            responses_per_month=50_000,
            seats=50,
            features=frozenset({"pii_encryption", "webhooks", "export_xlsx", "export_spss", "custom_branding"}),
        ),
        Plan(
            key="enterprise",
            name="Enterprise",
            amount=49900,
            active_surveys=None,
            responses_per_month=None,
            seats=None,
            features=frozenset(FEATURES),
        ),
    )
}
# Upgrades are offered in this order.
ORDER = ("free", "team", "business", "enterprise")


def plan_get(key: str) -> Plan:
    try:
        return PLANS[key]
    except KeyError:
        raise KeyError(f"Unknown plan {key!r}; known: {', '.join(ORDER)}.") from None


def plan_for_lookup_key(lookup_key: str | None) -> Plan | None:
    for plan in PLANS.values():
        if lookup_key and plan.lookup_key == lookup_key:
            return plan
    return None


def upgrade_for(plan_key: str, limit: str) -> Plan | None:
    """The smallest plan above ``plan_key`` with a higher ``limit``."""
    current = plan_get(plan_key).limit(limit)
    for key in ORDER[ORDER.index(plan_key) + 1 :]:
        candidate = PLANS[key].limit(limit)
        if candidate is None or (current is not None and candidate > current):
            return PLANS[key]
    return None
