"""The wire's schema family (API.md): pydantic models shared by the server and the client.

The server declares them as request bodies and `response_model`s, so `/openapi.json`
describes every answer; the client parses answers with the same models. Modules:
`base` (the bases and the one snake_case ↔ camelCase rule), `errors`, `contracts`,
`events`, `batch`, `supervisors`, `answers` (a use case's typed decision → its wire model).

Import the modules, not this package: `core.errors` imports `core.api.errors`, so this
`__init__` stays empty to keep that import free of cycles.
"""
