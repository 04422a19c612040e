"""Jupyter server settings of the instructors' servers.

nbgrader's JupyterLab extension shows the Formgrader in a frame. JupyterHub >= 4.1 forbids every
frame (`frame-ancestors 'none'`); with one subdomain per user (JupyterHub.subdomain_host) nbgrader's
documentation allows `frame-ancestors 'self'` again: only pages of the instructor's own server may
frame it, no other user's server can ("Formgrader with jupyterhub>=4.1", "Enabling JupyterHub subdomains").
"""

c = get_config()  # noqa: F821

c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
