"""The notebook server's domain logic: no Flask, no request globals, no HTTP status codes.

Everything here takes plain values and returns wire models (``models``) or raises a
``errors.NotebookError``; the blueprints translate both into HTTP.
"""
