/* conv_blocked_avx2.c - the blocked-layout conv kernels for AVX2 + FMA (NCHW8c);
 * compiled with -mavx2 -mfma. */
#if defined(__x86_64__)
#define CSV_AVX2
#include "conv_special_vec.h"
#define BLK_SUFFIX avx2
#include "conv_blocked_tmpl.h"
#else
typedef int conv_blocked_avx2_unused; /* ISO C: no empty translation units */
#endif
