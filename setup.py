"""The package list, which pyproject.toml cannot state: `find_packages` cannot see that the
engine/ folder installs as `charrnn_tui.engine`, so its sub-packages are found here and
renamed. New sub-packages need no edit. Folders are mapped in pyproject's package-dir.
"""

from setuptools import find_packages, setup


def _installed_as(name: str, folder: str) -> list[str]:
    """`folder`'s package and every sub-package in it, named as installed under `name`."""
    return [name] + [f"{name}.{sub}" for sub in find_packages(folder)]


setup(packages=find_packages(include=["charrnn_tui", "charrnn_tui.*"])
      + _installed_as("charrnn_tui.engine", "engine")
      + _installed_as("charrnn_tui.assets", "assets"))
