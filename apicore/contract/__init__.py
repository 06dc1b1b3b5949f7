"""The request and response bodies of the REST contract (docs/contract.md).

The services validate with these models, and the gateway validates with the same
ones before it checks anything across services (an order's body before its user) and
documents its routes with them.
"""
