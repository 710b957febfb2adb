"""``tap-oracle-wms``: the WMS entity API as a Singer tap, for Meltano users.

tap.py      TapOracleWMS: settings, validation, stream discovery
client.py   WmsStream: one entity read through ``gruponos.wms``, emitted as Singer records
streams.py  one stream per catalog entity
meltano.py  ``meltano run`` of the project in ``meltano/`` (for the CLI and the flows)
"""

from gruponos.tap.tap import TapOracleWMS

__all__ = ["TapOracleWMS"]
