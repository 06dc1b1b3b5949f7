from __future__ import annotations

from decimal import Decimal

import strawberry


@strawberry.type
class OrderItem:
    product: str
    quantity: int
    price: Decimal
