#!/usr/bin/env bash
# usage: scripts/emnist_kill_resume.sh [EMNIST_DIR]   (default ../shared/data/emnist)
# suites/emnist.yaml (scaled down as tests/test_emnist_suite.py does) under --executor process:
# SIGKILL the driver after its first cells, then --resume; print what the store holds.
set -u
cd "$(dirname "$0")/.." && . .venv/bin/activate
D=${1:-../shared/data/emnist}; W=$(mktemp -d); S=$W/store.sqlite; C=$W/cache
ARGS=(suites/emnist.yaml --quiet --set dataset.params.variant=bymerge --set dataset.params.data_dir=$D
  --set "dataset.train=test[:5000]" --set "dataset.test=test[85%:]" --set models[0].params.epochs=2
  --set models[0].params.optimizer=adam --set models[0].params.learning_rate=0.001
  --set "defenses[1].params.temperature=[100]" --set "attacks[fgsm].params.eps=[0.01, 0.1]"
  --set "attacks[cw-l2-native].samples=10" --set "attacks[cw-linf-native].samples=10"
  --set "attacks[cw-l0-native].samples=10" --limit 40 --set "exclude=[{attack: cw-l2}, {attack: cw-linf}]"
  --store $S --cache-dir $C --executor process --workers 2)
bench run "${ARGS[@]}" >/dev/null 2>&1 &
PID=$!
while :; do
  n=$(sqlite3 $S "select count(*) from cells" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 5 ] && break
  kill -0 $PID 2>/dev/null || { echo "run ended first"; exit 1; }
  sleep 0.5
done
kill -9 $PID; wait $PID 2>/dev/null
echo "killed after $(sqlite3 $S 'select count(*) from cells') cells stored; status $(sqlite3 $S 'select status from runs')"
sleep 2; echo "workers left: $(pgrep -f "multiprocessing.spawn" | wc -l)"
/usr/bin/time -f "resume %e s" bench run "${ARGS[@]}" --resume 2>&1 | grep -E "resume |FAILED"
echo "status|planned|stored|distinct|ok"
sqlite3 $S "select status, cells_total, (select count(*) from cells), (select count(distinct cell_id) from cells), (select count(*) from cells where status='ok') from runs"
