# See ../__init__.pyi.
