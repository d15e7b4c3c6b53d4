"""Building blocks of the sample-data generator (one concern per module).

`generate.py` wires them together; every module takes a `ProvinceSpec` so that a
later `--province` option only has to add another spec in `province.py`.
"""
