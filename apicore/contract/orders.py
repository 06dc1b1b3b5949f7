"""Orders: what the orders service accepts and serves, and the gateway checks first."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from apicore.jsonbody import WrittenWithExponent
from apicore.validation import NonBlank200, PartialModel, StrictModel

OrderStatus = Literal["created", "in_progress", "completed", "cancelled"]

CENT = Decimal("0.01")
MAX_TOTAL = Decimal("99999999.99")

# A JSON integer: `"5"`, `5.0` and `5e0` are refused (strict: no coercion).
Quantity = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]

# A price as a string: a JSON number's grammar without sign or exponent, at most two
# decimals. Python's Decimal() alone would also take "1_000", " 5 ", "1e2", "٥".
_PRICE_TEXT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,2})?")
_PRICE_ERROR = "Must be a number with at most 2 decimals, as a JSON number or a string"


def _price_as_written(value: object) -> object:
    """At most two decimals as the client wrote them: no exponent, no stray characters."""
    if isinstance(value, WrittenWithExponent):
        raise ValueError("Must be written without an exponent")
    if isinstance(value, bool):
        raise ValueError(_PRICE_ERROR)
    if isinstance(value, str):
        if not _PRICE_TEXT.fullmatch(value):
            raise ValueError(_PRICE_ERROR)
        return Decimal(value)
    exponent = value.as_tuple().exponent if isinstance(value, Decimal) else 0
    if isinstance(exponent, int) and exponent < -2:  # not "n", "N" or "F": a finite number
        # "52.000" as written has three decimals (Pydantic would count them normalised).
        raise ValueError("Must have at most 2 decimals")
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_price_as_written),
    Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False),
    AfterValidator(Decimal.copy_abs),  # -0 passes ge=0; it is served as 0.00
]


class OrderItemCreate(StrictModel):
    product: NonBlank200
    quantity: Quantity
    price: Price

    def stored(self) -> dict[str, object]:
        """The item as stored and served: money as a string with two decimals."""
        return {
            "product": self.product,
            "quantity": self.quantity,
            "price": str(self.price.quantize(CENT)),
        }


def order_total(items: list[OrderItemCreate]) -> Decimal:
    """Σ quantity × price, rounded half-up to cents."""
    total = sum((item.price * item.quantity for item in items), Decimal(0))
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def _total_fits(items: list[OrderItemCreate]) -> list[OrderItemCreate]:
    if order_total(items) > MAX_TOTAL:
        raise ValueError(f"Order total exceeds {MAX_TOTAL}")
    return items


Items = Annotated[
    list[OrderItemCreate], Field(min_length=1, max_length=100), AfterValidator(_total_fits)
]


# A deadline (docs/graphql.md, "Deadlines and reports"): a calendar date written `YYYY-MM-DD`,
# nothing else. Pydantic alone would also take a number (seconds since 1970) or
# `2026-12-01T00:00:00`.
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: object) -> date:
    """`YYYY-MM-DD` and a real day, else ValueError saying which."""
    if not isinstance(value, str) or not _DATE_TEXT.fullmatch(value):
        raise ValueError("Must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("Must be a date that exists") from None


def _date_as_written(value: object) -> object:
    return None if value is None else parse_date(value)


DueDate = Annotated[
    date | None,
    BeforeValidator(_date_as_written),
    Field(description="The deadline (a UTC calendar date), null for none"),
]


AssigneeId = Annotated[
    uuid.UUID | None,
    Field(description="The user doing the work (not the order's user), null for nobody"),
]


class OrderCreate(StrictModel):
    user_id: uuid.UUID
    items: Items
    status: OrderStatus = "created"
    due_date: DueDate = None
    assignee_id: AssigneeId = None


class OrderUpdate(StrictModel):
    # user_id is accepted only to say it cannot change (legacy clients send whole objects).
    # A field sent as null is an error, not "no change".
    # Ignore below (pydantic): it does not validate a default, so None stands for a field
    # left out while the type stays that of a value sent, and a null sent is refused.
    # `X | None` would accept null and change the exported schema (schema/).
    user_id: uuid.UUID = None  # type: ignore[assignment]  # pydantic: unvalidated default
    items: Items = None  # type: ignore[assignment]  # pydantic: unvalidated default
    status: OrderStatus = None  # type: ignore[assignment]  # pydantic: unvalidated default
    # Unlike the others, null is a value here: no deadline any more. Absent: no change.
    due_date: DueDate = None
    # Null is a value too: nobody assigned any more. Absent: no change.
    assignee_id: AssigneeId = None

    def changes_due_date(self) -> bool:
        return "due_date" in self.model_fields_set

    def changes_assignee(self) -> bool:
        return "assignee_id" in self.model_fields_set


class OrderItemPublic(BaseModel):
    product: str
    quantity: int
    price: str = Field(examples=["52.00"])


class OrderPublic(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    assignee_id: uuid.UUID | None = Field(description="Who does the work, null for nobody")
    items: list[OrderItemPublic]
    status: OrderStatus
    total_amount: str = Field(examples=["520.00"])
    due_date: date | None = Field(description="The deadline (UTC calendar date), null for none")
    overdue: bool = Field(
        description="Past its due date (before today, UTC) while created or in progress"
    )
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None = Field(description="Who created it (null: not recorded)")
    updated_by: uuid.UUID | None = Field(description="Who changed it last (null: not recorded)")


class OrderPartial(PartialModel):
    """An order as `?fields=` returns it: `id` and the fields asked for."""

    id: uuid.UUID
    # Ignore below (pydantic): it does not validate a default, so None stands for a field
    # not asked for (absent from the answer) while the type stays that of one given.
    # `X | None` would say null can come, in the exported schema (schema/) too.
    user_id: uuid.UUID = None  # type: ignore[assignment]  # pydantic: unvalidated default
    assignee_id: uuid.UUID | None = None
    items: list[OrderItemPublic] = None  # type: ignore[assignment]  # pydantic: unvalidated default
    status: OrderStatus = None  # type: ignore[assignment]  # pydantic: unvalidated default
    # Ignore below (pydantic): as above.
    total_amount: str = Field(None, examples=["520.00"])  # type: ignore[assignment]  # pydantic
    due_date: date | None = None
    overdue: bool = None  # type: ignore[assignment]  # pydantic: unvalidated default
    created_at: datetime = None  # type: ignore[assignment]  # pydantic: unvalidated default
    updated_at: datetime = None  # type: ignore[assignment]  # pydantic: unvalidated default
    created_by: uuid.UUID | None = None
    updated_by: uuid.UUID | None = None


HistoryAction = Literal["created", "updated", "deleted"]


class FieldChange(BaseModel):
    field: str
    old: Any = Field(description="The value before, as the order serves it (null: none)")
    new: Any = Field(description="The value after, as the order serves it (null: none)")


class OrderHistoryEntry(BaseModel):
    id: int
    order_id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None = Field(description="The acting user, null when not recorded")
    action: HistoryAction
    changes: list[FieldChange]


# Reports (docs/graphql.md, "Deadlines and reports"): computed by the orders service, passed
# through by the gateway.
class StatusStats(BaseModel):
    status: OrderStatus
    count: int
    total_amount: str = Field(examples=["520.00"])


class OrderStats(BaseModel):
    count: int
    total_amount: str = Field(examples=["1040.00"])
    overdue: int = Field(description="Orders past their due date while created or in progress")
    on_time: int = Field(
        description="Completed orders with a due date, completed (UTC day) on or before it"
    )
    late: int = Field(description="Completed orders with a due date, completed after it")
    on_time_share: float | None = Field(
        description="on_time / (on_time + late), 4 decimals; null when both are 0"
    )
    by_status: list[StatusStats] = Field(description="Every status, zeros included")


class UserOrderStats(OrderStats):
    user_id: uuid.UUID


def empty_order_stats() -> dict[str, object]:
    """OrderStats of no orders: every status present, at zero (the service's starting point,
    the gateway's answer for orders a caller may not read)."""
    return {
        "count": 0,
        "total_amount": "0.00",
        "overdue": 0,
        "on_time": 0,
        "late": 0,
        "on_time_share": None,
        "by_status": [
            {"status": status, "count": 0, "total_amount": "0.00"}
            for status in get_args(OrderStatus)
        ],
    }


class DayStats(BaseModel):
    date: date
    created: int = Field(description="Orders created that day (UTC)")
    completed: int = Field(description="Orders completed that day (UTC)")
