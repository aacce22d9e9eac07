/* The document-length histograms LongCA-bench samples from, shipped inside the binary
 * (the same numbers as the JSON files in data/doclen/; tests/test_mask_doclen.c checks they agree). */
#ifndef LC_DOCLEN_TABLES_H
#define LC_DOCLEN_TABLES_H

#include <stdint.h>

#include "core/mask/mask.h"
#include "core/mask/doclen.h"

struct doclen_bin {
    int64_t lo, hi; /* lengths in [lo, hi) */
    double weight;  /* relative frequency (the weights of a table sum to about 1) */
};

struct doclen_table {
    const char *name; /* the JSON file's stem: "pile", "prolong64k", "prolong512k" */
    const struct doclen_bin *bins;
    int n_bins;
};

/* The histogram of a concrete source (not DOCLEN_AUTO / DOCLEN_LONG): NULL otherwise. */
const struct doclen_table *doclen_table_of(enum doclen_source source);

#endif
