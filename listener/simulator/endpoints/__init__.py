"""Graph API requests in, Meta-shaped replies out (pure): one module per family of endpoints.

`handle` takes a transport-free `GraphRequest` and the time, asks the `World`, and returns a
`GraphReply` (status, JSON body, headers, and how long the shell must stall for a ``delay``
fault).

- `dispatch`: the pipeline every call goes through (faults, auth, rate limit, stats, headers);
- `routing`: which endpoint a path names; `call`: the request, reply and per-call context;
- `auth`: user and app tokens, the ``appsecret_proof`` check, the IG user acted for;
- `hashtags`: ``ig_hashtag_search``, the hashtag node, ``recent_media``/``top_media`` and
  ``recently_searched_hashtags``; `tags`: ``/tags``; `mentions`: the user node's mention
  expansions and the comment node; `tokens`: ``debug_token``, the exchange and the refresh;
- `fields`: each node type's fields as a table of getters; `cursors`: every paging cursor.
"""

from listener.simulator.endpoints.call import GraphReply, GraphRequest, Route
from listener.simulator.endpoints.dispatch import handle
from listener.simulator.endpoints.routing import resolve

__all__ = ["GraphReply", "GraphRequest", "Route", "handle", "resolve"]
