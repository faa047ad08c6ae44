#!/usr/bin/env bash
# An owner change of 1,000,000 codes on PostgreSQL with 10,000,000 stored,
# next to a bare UPDATE of the same rows in the same run (issue 5; the
# decree allows 3 minutes): loose codes, then the same number packed in
# 1,000 transport packages; and the service's peak memory. See
# api/benches/documents.rs for what is measured.
#
#   bench/documents.sh                      1,000,000 codes, 10,000,000 stored
#   DOCUMENTS_N=100000 DOCUMENTS_STORED=1000000 bench/documents.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services
export TANBA_TEST_POSTGRES_URL=${TANBA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo bench -p tanba-api --bench documents
