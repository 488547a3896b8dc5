/* conv_depthwise_avx2.c - the depthwise kernel for AVX2 + FMA (8 floats per
 * vector); compiled with -mavx2 -mfma. */
#if defined(__x86_64__)
#define CSV_AVX2
#include "conv_special_vec.h"
#define DW_SUFFIX avx2
#include "conv_depthwise_tmpl.h"
#else
typedef int conv_depthwise_avx2_unused; /* ISO C: no empty translation units */
#endif
