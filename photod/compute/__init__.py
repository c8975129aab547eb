"""Running the models elsewhere: decode, heads and VLM on a Ray cluster's workers.

With ``compute.backend: ray`` (or ``photod scan --on ray``) this process keeps the queue, reads
and hashes each photo and commits through its one index writer; the workers hold the models
and send back each photo's results (:mod:`photod.compute.offload`). Ray itself (the ``ray``
extra) is imported only by :mod:`photod.compute.cluster`, when a cluster is first used.
"""
