"""The operations the playground (GET /graphql) opens with, one tab each, in this order.

What a dashboard is built from: append an `Example` here and it is a tab of its own
(tests/graphql_gateway/test_playground.py validates each against the schema).
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH_NOTE = (
    "# GATEWAY_AUTH=on? Run the Login tab, then put\n"
    '#   {"Authorization": "Bearer <accessToken>"}\n'
    "# in the Headers tab below.\n"
)


@dataclass(frozen=True)
class Example:
    name: str  # the operation's name, which GraphiQL shows as the tab's title
    query: str
    variables: str | None = None  # JSON text, as the Variables editor shows it


EXAMPLES: list[Example] = [
    Example(
        "Dashboard",
        f"""# The dashboard: users with their orders.
{AUTH_NOTE}
query Dashboard {{
  users(limit: 20) {{
    total
    items {{
      id
      name
      email
      orders {{
        id
        status
        totalAmount
        createdAt
      }}
    }}
  }}
}}
""",
    ),
    Example(
        "UserWithOrders",
        f"""# One user with its orders: a user's id (from the
# Dashboard tab) in Variables.
{AUTH_NOTE}
query UserWithOrders($id: UUID!) {{
  user(id: $id) {{
    id
    name
    email
    roles
    orders {{
      id
      status
      totalAmount
      items {{
        product
        quantity
        price
      }}
    }}
  }}
}}
""",
        '{"id": "00000000-0000-0000-0000-000000000000"}',
    ),
    Example(
        "Login",
        """# Log in: your email and password in Variables. Then
# put the accessToken in the Headers tab below:
#   {"Authorization": "Bearer <accessToken>"}
# It is sent with every operation until it expires
# (expiresIn seconds); then log in again. With
# GATEWAY_AUTH=off (the default) no header is needed.

mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken
    expiresIn
    user {
      id
      email
      roles
    }
  }
}
""",
        '{"email": "you@example.com", "password": "your password"}',
    ),
]
