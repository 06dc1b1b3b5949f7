"""The wire contract shared by the gateway and both services.

Envelope, error model, middleware (body limit, request id), logging, OpenAPI
touch-ups and database bootstrap are written once here and used by all three
processes.
"""
