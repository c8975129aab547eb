"""Search: the query language (:mod:`~photod.search.query`), planning it over the index
(:mod:`~photod.search.plan`), ranking and fusion (:mod:`~photod.search.engine`) and results
(:mod:`~photod.search.results`). The web app and ``photod search`` both use
:class:`~photod.search.engine.SearchEngine`."""
