/* The LongCA-bench timing protocol's statistics. */
#ifndef LC_STATS_H
#define LC_STATS_H

/* Median, 20th and 80th percentile of n samples (sorted in place). */
void stats_percentiles(double *samples, int n, double *median, double *p20, double *p80);

#endif
