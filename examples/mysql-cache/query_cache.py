"""Cache-aside for MariaDB/MySQL query results, with memcached's protocol (slabd or
memcached) as the cache. The pieces a real application needs:

- query results keyed by a hash of the SQL text and its parameters, with a TTL;
- invalidation on update without knowing which cached queries read the row: each table
  has a generation number in the cache that is part of every query key, and an update
  bumps it, so every older result of that table is unreachable at once (and ages out);
- rows by id fetched in one batch: one multi-get for all ids, one `SELECT ... IN (...)`
  for the misses, one multi-set to fill them.
"""
import hashlib
import json

from pymemcache.client.base import Client


class QueryCache:
    def __init__(self, db, cache: Client, ttl=300, prefix="qc"):
        self.db = db
        self.cache = cache
        self.ttl = ttl
        self.prefix = prefix

    def _generation_key(self, table):
        return f"{self.prefix}:gen:{table}"

    def _generation(self, table):
        key = self._generation_key(table)
        gen = self.cache.get(key)
        if gen is None:
            # add, not set: a concurrent bump must not be overwritten with an older value.
            self.cache.add(key, b"1", noreply=False)
            gen = self.cache.get(key) or b"1"
        return int(gen)

    def _query_key(self, sql, params, tables):
        gens = [self._generation(t) for t in tables]
        text = json.dumps([gens, sql, list(params)], default=str)
        return f"{self.prefix}:q:{hashlib.sha1(text.encode()).hexdigest()}"

    def query(self, sql, params=(), tables=(), ttl=None):
        """Rows of `sql` (dicts) and where they came from: "cache" or "mariadb".
        `tables` names the tables the query reads, for invalidation."""
        key = self._query_key(sql, params, tables)
        cached = self.cache.get(key)
        if cached is not None:
            return json.loads(cached), "cache"
        rows = self._fetch(sql, params)
        self.cache.set(key, json.dumps(rows).encode(), expire=ttl or self.ttl)
        return rows, "mariadb"

    def _fetch(self, sql, params):
        with self.db.cursor() as cur:
            cur.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def _row_key(self, table, row_id):
        return f"{self.prefix}:{table}:{row_id}"

    def rows_by_id(self, table, ids):
        """{id: row} for `ids` with one multi-get, one SELECT for the misses, one
        multi-set; also returns how many came from the cache."""
        keys = {self._row_key(table, i): i for i in ids}
        found = self.cache.get_many(list(keys))
        rows = {keys[k]: json.loads(v) for k, v in found.items()}
        missing = [i for i in ids if i not in rows]
        if missing:
            marks = ", ".join(["%s"] * len(missing))
            # `table` comes from the application, never from a user.
            fetched = self._fetch(f"SELECT * FROM {table} WHERE id IN ({marks})", missing)
            fresh = {r["id"]: r for r in fetched}
            self.cache.set_many({self._row_key(table, i): json.dumps(r).encode()
                                 for i, r in fresh.items()}, expire=self.ttl)
            rows.update(fresh)
        return rows, len(found)

    def update(self, table, row_id, column, value):
        """Writes the database first, then invalidates: the row's own entry and, by
        bumping the table's generation, every cached query that read the table."""
        with self.db.cursor() as cur:
            # `table` and `column` come from the application, never from a user.
            cur.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", (value, row_id))
        self.db.commit()
        self.cache.delete(self._row_key(table, row_id))
        if self.cache.incr(self._generation_key(table), 1) is None:
            self.cache.add(self._generation_key(table), b"2", noreply=False)
