"""The API's routers, one module per area of API.md's endpoint table."""
