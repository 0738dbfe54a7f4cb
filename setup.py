"""The one thing pyproject.toml cannot say: ship the top-level ``resources/`` folder inside the wheel
as package data of ``pos`` (``pos/resources``), where pos/hardware/resources.py finds it once
installed. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

#: resources/ and its folders, as (data-only) packages under pos.resources.
RESOURCES = ["pos.resources", *(f"pos.resources.{name}" for name in find_namespace_packages("resources"))]

setup(
    # Namespace packages too: the server's templates/, static/ and locale/ folders are data-only.
    packages=[
        *find_namespace_packages(include=["pos", "pos.*", "sync", "sync.*"], exclude=["*.__pycache__"]),
        *RESOURCES,
    ],
    package_dir={"pos.resources": "resources"},
    # Every file of resources/; and the server's templates, static files and translations. (All
    # package data is here: pyproject's [tool.setuptools.package-data] would replace this whole.)
    package_data={
        "": ["*.sql", "*.html", "*.css", "*.js", "*.txt", "*.ini", "*.mako", "*.json", "*.po"],
        **{name: ["*"] for name in RESOURCES},
    },
)
