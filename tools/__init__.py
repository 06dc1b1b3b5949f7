"""Development tools, run by hand or by `make`: never imported by a service process.

`apicore/` is the runtime every process imports; what only developers, tests and the
runner need lives here (tests/test_import_direction.py keeps `apicore/` from importing it).
"""
