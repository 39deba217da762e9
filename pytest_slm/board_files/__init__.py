"""Board definitions shipped with the plugin: data only, one YAML file per board.

This folder is a package so that setuptools ships the YAML files as package data and
`importlib.resources` finds them in any installation (wheel, sdist, editable).
"""
