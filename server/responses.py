"""A JSON response rendered with orjson.

Routes that return large bodies (event pages, contract lists, the dashboard, exports) return
this directly: FastAPI otherwise walks every returned dict through `jsonable_encoder` first,
which cost ~20x the encoding itself for a page of 1,000 events. Our wire dicts already hold
only JSON types (times are ISO text), so nothing is lost by skipping it.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
