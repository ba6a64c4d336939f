/* Shared by the bench programs: the clock, medians, error checks and the line format of the
 * figures with a target (issue 16): `name: fdsafe X unit, raw Y unit, ratio R [target ...]`.
 * Every figure compares fdsafe with the same work on raw descriptors in the same run, in
 * alternating batches, and reports medians. */
#ifndef FDSAFE_BENCH_COMMON_H
#define FDSAFE_BENCH_COMMON_H

#include <fdsafe.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The counted-reference floor's two locked instructions (see the `[floor]` lines): take a
 * reference on a state word with a compare-and-swap, give it back with a fetch_sub. */
static inline void floor_take(_Atomic uint64_t *word) {
    uint64_t s = atomic_load_explicit(word, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(word, &s, s + 1, memory_order_acquire, memory_order_relaxed)) {
    }
}

static inline void floor_give(_Atomic uint64_t *word) {
    atomic_fetch_sub_explicit(word, 1, memory_order_acq_rel);
}

static inline double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline int bench_by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values; sorts v in place. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of n values, leaving v as it is. */
static inline double median_of(const double *v, int n) {
    double *copy = malloc(sizeof *copy * (size_t)n);
    if (!copy) exit(1);
    memcpy(copy, v, sizeof *copy * (size_t)n);
    double m = median(copy, n);
    free(copy);
    return m;
}

/* The median of a[i] / b[i]: batch i of each side ran back to back, so the median of the
 * paired ratios is steadier than the ratio of the medians when the machine drifts. */
static inline double median_ratio(const double *a, const double *b, int n) {
    double *r = malloc(sizeof *r * (size_t)n);
    if (!r) exit(1);
    for (int i = 0; i < n; i++) r[i] = a[i] / b[i];
    double m = median(r, n);
    free(r);
    return m;
}

static inline void check(int64_t rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, fdsafe_strerror((int)rc));
        exit(1);
    }
}

/* A time per operation (lower is better); `ratio` is fdsafe / raw unless the target says
 * otherwise. */
static inline void figure_ns(const char *name, double fdsafe_ns, double raw_ns, const char *ratio_name, double ratio,
                             const char *target) {
    printf("%s: fdsafe %.1f ns, raw %.1f ns, %s %.3f [target %s]\n", name, fdsafe_ns, raw_ns, ratio_name, ratio,
           target);
    fflush(stdout);
}

/* A throughput (higher is better); `ratio` is fdsafe / raw. */
static inline void figure_rate(const char *name, double fdsafe_rate, double raw_rate, const char *unit, double ratio,
                               const char *target) {
    printf("%s: fdsafe %.0f %s, raw %.0f %s, ratio %.3f [target %s]\n", name, fdsafe_rate, unit, raw_rate, unit, ratio,
           target);
    fflush(stdout);
}

#endif
