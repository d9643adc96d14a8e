"""Write the OpenAPI document Powertools generates from the routes and models.

python -m local.export_openapi            # rewrites docs/openapi.json
"""

import json
from pathlib import Path

OPENAPI_PATH = Path(__file__).parents[1] / "docs" / "openapi.json"


def render_openapi() -> str:
    from http_api import app

    return json.dumps(json.loads(app.get_openapi_json_schema()), indent=2, sort_keys=True) + "\n"


def main() -> None:
    OPENAPI_PATH.write_text(render_openapi(), encoding="utf-8")
    print(f"wrote {OPENAPI_PATH}")


if __name__ == "__main__":
    main()
