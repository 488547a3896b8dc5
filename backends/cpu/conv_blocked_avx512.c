/* conv_blocked_avx512.c - the blocked-layout conv kernels for AVX-512 (NCHW16c);
 * compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma. */
#if defined(__x86_64__)
#define CSV_AVX512
#include "conv_special_vec.h"
#define BLK_SUFFIX avx512
#include "conv_blocked_tmpl.h"
#else
typedef int conv_blocked_avx512_unused; /* ISO C: no empty translation units */
#endif
