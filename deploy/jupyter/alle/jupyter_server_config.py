"""Jupyter server settings of every server on the hub."""

import os

c = get_config()  # noqa: F821

# German JupyterLab (deploy/jupyter/lab-settings/overrides.json), no calls to the internet for news.
if os.environ.get("NNKURS_LAB_SETTINGS"):
    c.LabApp.app_settings_dir = os.environ["NNKURS_LAB_SETTINGS"]
