"""revdial: conversational recommender data from reviews, metadata and ratings.

Stages (each a subpackage): seeds -> selection -> generation -> curation -> (argilla) -> crs -> hub.
"""

__version__ = "0.1.0"
