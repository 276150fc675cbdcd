#!/usr/bin/env bash
# The reference study (suites/emnist.yaml) on the real EMNIST files in ../shared/data/emnist,
# scaled to a 2-core machine: the results of docs/reproduction.md.
#   scripts/reproduce_emnist.sh [DATA_DIR] [extra bench-run arguments...]
# ByMerge test split (116,323 images, the 47 classes of Balanced) re-split 85/15: train on the
# first 98,875 images, evaluate on a seeded subset of the last 17,448. 2 epochs of Adam instead
# of 50 of SGD; ART's CW (minutes per row on 47 classes) on the undefended, T = 10 and T = 100
# rows only, on 20 and 10 samples; our native CW on 100 samples of every row.
set -euo pipefail
data=${1:-$(dirname "$0")/../../shared/data/emnist}
shift || true
art_cw_off=""
for t in 1 2 5 35 50; do
    for a in cw-l2 cw-linf; do
        art_cw_off+="{defense: 'distillation[temperature=$t]', attack: $a}, "
    done
done
exec bench "${BENCH_COMMAND:-run}" "$(dirname "$0")/../suites/emnist.yaml" \
    --set dataset.params.variant=bymerge --set "dataset.params.data_dir=$data" \
    --set 'dataset.train=test[:85%]' --set 'dataset.test=test[85%:]' \
    --set models[0].params.epochs=2 --set models[0].params.optimizer=adam \
    --set models[0].params.learning_rate=0.001 \
    --set evaluation.samples=2000 \
    --set 'attacks[cw-l2].samples=20' --set 'attacks[cw-linf].samples=10' \
    --set "exclude=[${art_cw_off%, }]" \
    "$@"
