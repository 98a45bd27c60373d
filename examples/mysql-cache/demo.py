#!/usr/bin/env python3
"""Caching MariaDB query results in slabd (or any memcached), end to end.

Starts a private MariaDB, loads a product table, and shows: the first query reaches
MariaDB, the second is served by the cache, an update invalidates it, rows by id come in
one batched multi-get, and a TTL expires. Prints the latency of both paths. Exits
non-zero if any step behaves otherwise.

    python3 demo.py --cache 127.0.0.1:11211
"""
import argparse
import statistics
import sys
import time

import pymysql
from pymemcache.client.base import Client

from mariadb import MariaDB
from query_cache import QueryCache

TOP = ("SELECT id, name, price_cents FROM products WHERE category = %s "
       "ORDER BY price_cents DESC, id LIMIT 10")


def expect(cond, what):
    if not cond:
        print(f"FAILED - {what}", flush=True)
        sys.exit(1)
    print(f"ok - {what}", flush=True)


def seed(db, rows=2000):
    with db.cursor() as cur:
        cur.execute("CREATE DATABASE shop")
        cur.execute("USE shop")
        cur.execute("CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
                    "category VARCHAR(16) NOT NULL, price_cents INT NOT NULL)")
        cats = ["books", "games", "tools", "music"]
        cur.executemany("INSERT INTO products VALUES (%s, %s, %s, %s)",
                        [(i, f"product {i}", cats[i % 4], (i * 7919) % 10000 + 100)
                         for i in range(1, rows + 1)])
    db.commit()


def median_us(fn, n=200):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", default="127.0.0.1:11211", help="memcached-protocol server")
    o = ap.parse_args()
    host, port = o.cache.rsplit(":", 1)
    cache = Client((host, int(port)), connect_timeout=2, timeout=2)
    cache.flush_all()

    t0 = time.time()
    server = MariaDB().start()
    try:
        print(f"mariadb up on 127.0.0.1:{server.port} in {time.time() - t0:.1f} s", flush=True)
        db = pymysql.connect(unix_socket=server.socket, user="root", password="",
                             autocommit=False)
        seed(db)
        qc = QueryCache(db, cache, ttl=300)

        rows1, src = qc.query(TOP, ("books",), tables=("products",))
        expect(src == "mariadb" and len(rows1) == 10, "first query is answered by MariaDB")
        rows2, src = qc.query(TOP, ("books",), tables=("products",))
        expect(src == "cache" and rows2 == rows1, "second query is served by the cache")

        top = rows1[0]
        qc.update("products", top["id"], "price_cents", 5)
        rows3, src = qc.query(TOP, ("books",), tables=("products",))
        expect(src == "mariadb" and top["id"] not in [r["id"] for r in rows3],
               "an update invalidates the cached result (the cheapened product left the top 10)")
        _, src = qc.query(TOP, ("books",), tables=("products",))
        expect(src == "cache", "the fresh result is cached again")

        ids = list(range(1, 201))
        rows, from_cache = qc.rows_by_id("products", ids)
        expect(len(rows) == 200 and from_cache == 0, "200 rows by id: one multi-get, all missed, one SELECT ... IN")
        rows, from_cache = qc.rows_by_id("products", ids)
        expect(len(rows) == 200 and from_cache == 200, "200 rows by id again: all from one multi-get")
        qc.update("products", 17, "name", "renamed")
        rows, from_cache = qc.rows_by_id("products", ids)
        expect(from_cache == 199 and rows[17]["name"] == "renamed",
               "after updating row 17 only that row is fetched again, with its new name")

        _, src = qc.query(TOP, ("games",), tables=("products",), ttl=1)
        expect(src == "mariadb", "a query cached with a 1 s TTL")
        time.sleep(2.1)
        _, src = qc.query(TOP, ("games",), tables=("products",), ttl=1)
        expect(src == "mariadb", "after its TTL it is answered by MariaDB again")

        db_path = median_us(lambda: qc._fetch(TOP, ("tools",)))
        qc.query(TOP, ("tools",), tables=("products",))
        cache_path = median_us(lambda: qc.query(TOP, ("tools",), tables=("products",)))
        batch_db = median_us(lambda: qc._fetch(
            "SELECT * FROM products WHERE id IN (" + ",".join(map(str, ids)) + ")", ()), 50)
        batch_cache = median_us(lambda: qc.rows_by_id("products", ids), 50)
        print(f"latency, median: top-10 query from MariaDB {db_path:.0f} us, "
              f"from the cache {cache_path:.0f} us; 200 rows by id from MariaDB "
              f"{batch_db:.0f} us, from the cache {batch_cache:.0f} us", flush=True)
        db.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
