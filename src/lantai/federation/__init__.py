"""跨馆协作 (issue 9): archive nodes, signed messages, 民生档案跨馆查档出证, federated search.

Modules: :mod:`identity` (this node; its key is the certificate signing key), :mod:`registry`
(partner nodes), :mod:`messages` (LANTAI-FED-MSG-1 envelope, signing, verification),
:mod:`outbox` (store-and-forward, retried until acknowledged), :mod:`service` (receiving,
idempotent on message id), :mod:`livelihood` (the request state machine), :mod:`workdays` and
:mod:`config` (deadlines and holidays as data), :mod:`federated_search`. See docs/federation.md.
"""
