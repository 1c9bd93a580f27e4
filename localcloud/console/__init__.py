"""The localcloud console: a live page at /_localcloud/console/ over the admin API.

`view` turns the backends' raw data into one masked snapshot (pure); `routes` serves the page's
static files and the snapshot; `static/` holds the page (plain HTML, CSS and JavaScript, no
build step, nothing fetched from the network).
"""
