#!/usr/bin/env bash
# The friend match (issue 4): builds the generator, fills a fresh database with 100 000 users
# (~50 friends and 100 "Want to watch" films each) and times the server's two match queries on
# random users, printing their query plans (docs/BENCHMARKS.md, docs/QUERY_PLANS.md).
# Without --database-url it runs on SQLite, then on the local PostgreSQL. Extra arguments go to
# the generator, e.g.
#   cargo make bench-match -- --users 10000 --samples 500
#   cargo make bench-match -- --database-url postgres://postgres@127.0.0.1:5432/test
exec bash "$(dirname "$0")/bench-on-both-databases.sh" match "$@"
