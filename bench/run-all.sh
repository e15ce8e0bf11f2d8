#!/bin/sh
# Runs every benchmark script once, in sequence (they share the machine, so
# never in parallel), and the Go benchmarks of the parsers and the solver.
# Figures go to stdout; BENCHMARKS.md records the latest ones.
set -eu
cd "$(dirname "$0")/.."
make build >/dev/null
export NOBUILD=1
echo "== go benchmarks"
go test -tags seccomp -run '^$' -bench 'BenchmarkParsePackages|BenchmarkSolveMinbase|BenchmarkRunTrue' -benchtime 5x \
	./repo/apt ./repo/apt/solve ./runtime/sandbox
echo "== build vs mmdebstrap"; bench/build-vs-mmdebstrap.sh "${RUNS_BUILD:-3}"
echo "== start vs runc"; bench/start-vs-runc.sh "${RUNS_START:-20}"
echo "== create vs tar"; bench/create-vs-tar.sh "${RUNS_CREATE:-5}"
echo "== cpu fairness"; bench/cpu-fair.sh "${CPU_SECONDS:-20}"
echo "== density"; bench/density.sh "${DENSITY_COUNT:-1000}" "${DENSITY_GIB:-16}" "${DENSITY_SECONDS:-0}"
echo "== plain create on btrfs"; bench/create-plain.sh "${RUNS_CREATE:-5}"
