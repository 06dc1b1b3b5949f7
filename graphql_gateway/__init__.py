"""The public entry point: GraphQL at /graphql and the legacy REST routes."""

__version__ = "1.0.0"
