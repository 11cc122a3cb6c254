"""revdial: conversational recommender data from reviews, metadata and ratings.

Stages (each a subpackage): seeds -> selection -> generation -> curation -> (argilla) -> crs -> hub.
"""

__version__ = "0.1.0"

from revdial.errors import keep_tracebacks_plain as _keep_tracebacks_plain

# distilabel installs a traceback hook that prints local variables (API keys among them); revdial undoes it.
_keep_tracebacks_plain()
