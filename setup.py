"""Maps the one import root `vh` onto the top-level folders (docs/architecture.md, "Import root and folders");
everything else is in pyproject.toml. Subpackages are discovered, so a new folder with an __init__.py needs no
edit here."""

from setuptools import find_packages, setup

PACKAGE_DIRS = {"vh.core": "core", "vh.client": "client", "vh.server": "server", "vh.training": "training"}

packages = []
for name, folder in PACKAGE_DIRS.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=PACKAGE_DIRS)
