/* The LongCA-bench timing protocol's statistics: median with 20th and 80th percentiles. */
#include <stdlib.h>

#include "core/model/stats.h"

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks (numpy's default). */
static double percentile_sorted(const double *v, int n, double p)
{
    double pos = p * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

void stats_percentiles(double *samples, int n, double *median, double *p20, double *p80)
{
    if (n <= 0) {
        *median = *p20 = *p80 = 0;
        return;
    }
    qsort(samples, (size_t)n, sizeof *samples, compare_doubles);
    *median = percentile_sorted(samples, n, 0.5);
    *p20 = percentile_sorted(samples, n, 0.2);
    *p80 = percentile_sorted(samples, n, 0.8);
}
