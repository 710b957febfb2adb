"""The project's vars, read from dbt_project.yml (``var`` in .sqlfluff returns them)."""

from pathlib import Path

import yaml

vars = yaml.safe_load((Path(__file__).parent.parent / "dbt_project.yml").read_text())["vars"]
