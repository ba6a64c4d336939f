#!/bin/bash
# The eventfd and pipe round trips with the library's code at eight places: the bench is linked
# eight times, with 0 to 7 cache lines (64 bytes each) of padding between its own code and the
# library's. A round trip adds a few nanoseconds to a few hundred, and where the code lands
# (which lines share cache sets and branch-predictor entries with the kernel's) moves that
# share by up to a percent, so one binary's figure is one draw; the median and the worst of
# eight are the figures to quote. Each placement runs in two processes (a process's own draw
# of kernel memory moves the figure by about 0.005 too), and counts with their mean.
#
# usage: bench/layouts.sh OUT_DIR LIBFDSAFE.a "STATIC_LIBS"
set -euo pipefail
out=$1 lib=$2 libs=$3
cases=(eventfd pipe)

for lines in 0 1 2 3 4 5 6 7; do
    printf '.section .note.GNU-stack,"",@progbits\n.text\n.fill %d,1,0x90\n' $((lines * 64)) > "$out/pad$lines.s"
    ${CC:-gcc} -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/bench.c "$out/pad$lines.s" "$lib" $libs -pthread \
        -o "$out/bench-layout$lines"
done

echo "eventfd and pipe round trips at eight code placements (fdsafe / raw, paired batches; mean of two runs each)"
for run in 1 2; do
    for lines in 0 1 2 3 4 5 6 7; do
        "$out/bench-layout$lines" "${cases[@]}" | sed -n "s/^\(eventfd\|pipe\) .*ratio \([0-9.]*\).*/$lines \1 \2/p"
    done
done | awk '
    { sum[$2, $1] += $3; runs[$2, $1]++; names[$2] = 1 }
    END {
        for (name in names) {
            line = ""
            for (i = 0; i < 8; i++) { value[i] = sum[name, i] / runs[name, i]; line = line sprintf(" %.3f", value[i]) }
            for (i = 1; i < 8; i++) for (j = i; j > 0 && value[j - 1] > value[j]; j--) {
                t = value[j]; value[j] = value[j - 1]; value[j - 1] = t
            }
            printf "%-8s by placement (0-7 lines):%s   median %.3f   worst %.3f\n", name, line, (value[3] + value[4]) / 2, value[7]
        }
    }' | sort
