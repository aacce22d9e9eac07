/* Document lengths sampled from the shipped histograms (LongCA's Pile, ProLong-64K/512K and long
 * tables), for the document masks. */
#ifndef LC_DOCLEN_H
#define LC_DOCLEN_H

#include <stdint.h>

#include "core/model/status.h"

enum doclen_source { DOCLEN_AUTO = 0, DOCLEN_PILE, DOCLEN_PROLONG64K, DOCLEN_PROLONG512K, DOCLEN_LONG };

/* Seeded; the lengths sum to seqlen (caller frees *lens). */
enum lc_status doclen_sample(enum doclen_source source, int64_t seqlen, uint64_t seed, int64_t **lens,
                             int *n_docs, char *err);
const char *doclen_source_name(enum doclen_source s);
int doclen_source_parse(const char *name, enum doclen_source *out);

#endif
