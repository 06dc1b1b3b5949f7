"""The operations the playground (GET /graphql) opens with, one tab each, in this order.

What a dashboard is built from: append an `Example` here and it is a tab of its own
(tests/graphql_gateway/test_playground.py validates each against the schema).
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH_NOTE = "# GATEWAY_AUTH=on? Run the Login tab once: every tab\n# then sends its token.\n"


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
        "OverdueWork",
        f"""# A manager's view: work past its due date, and each
# user's figures (counted by the orders service in SQL:
# one call for the whole page).
{AUTH_NOTE}
query OverdueWork {{
  late: orders(overdue: true) {{
    total
    items {{
      id
      dueDate
      status
      user {{
        name
      }}
    }}
  }}
  users(limit: 20) {{
    items {{
      name
      orderStats {{
        count
        overdue
        totalAmount
      }}
    }}
  }}
}}
""",
    ),
    Example(
        "FindWork",
        f"""# A manager's work: find orders (a search in the
# products, any case; statuses; sorted by deadline, `-`
# for descending), with who they are for and who works
# on them.
{AUTH_NOTE}
query FindWork($q: String) {{
  orders(q: $q, statuses: [CREATED, IN_PROGRESS], sort: "due_date", limit: 20) {{
    total
    items {{
      id
      dueDate
      overdue
      status
      user {{
        name
      }}
      assignee {{
        name
      }}
    }}
  }}
}}
""",
        '{"q": "бетон"}',
    ),
    Example(
        "AssignWork",
        f"""# A manager gives an order to an engineer, or hands it
# over (null: nobody): the order's and the engineer's ids
# in Variables. Its history says who changed what, when.
{AUTH_NOTE}
mutation AssignWork($order: UUID!, $engineer: UUID) {{
  updateOrder(id: $order, input: {{assigneeId: $engineer}}) {{
    id
    assignee {{
      name
    }}
    history(limit: 5) {{
      items {{
        at
        actorId
        action
        changes {{
          field
          old
          new
        }}
      }}
    }}
  }}
}}
""",
        '{"order": "00000000-0000-0000-0000-000000000000",'
        ' "engineer": "00000000-0000-0000-0000-000000000000"}',
    ),
    Example(
        "EngineerWork",
        f"""# An engineer's work: what is assigned to them, with
# its deadline. Moving its status is
#   updateOrder(id: …, input: {{status: IN_PROGRESS}})
# (its deadline and assignee are a manager's to change).
{AUTH_NOTE}
query EngineerWork {{
  me {{
    name
    assignedOrders {{
      id
      status
      dueDate
      overdue
      user {{
        name
      }}
      items {{
        product
        quantity
      }}
    }}
  }}
}}
""",
    ),
    Example(
        "Progress",
        f"""# A director's view: counts and amounts by status, the
# share of work completed on time, and orders created and
# completed per day (UTC), for charts. Both dates included;
# ordersByDay covers at most 366 days.
{AUTH_NOTE}
query Progress($from: Date, $to: Date) {{
  orderStats(from: $from, to: $to) {{
    count
    totalAmount
    overdue
    onTime
    late
    onTimeShare
    byStatus {{
      status
      count
      totalAmount
    }}
  }}
  ordersByDay(from: $from, to: $to) {{
    date
    created
    completed
  }}
}}
""",
        '{"from": null, "to": null}',
    ),
    Example(
        "Login",
        """# Log in: your email and password in Variables, then
# run it. The playground keeps the accessToken: every
# tab sends it until it expires (expiresIn seconds) or
# you sign out; then log in again. A client of your own
# sends {"Authorization": "Bearer <accessToken>"}. With
# GATEWAY_AUTH=off (the default) no token is needed.

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
