"""The package's version, in one place (pyproject.toml, ``--version``, reports and grade digests read it).

>>> __version__
'0.1.0'
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
