/* conv_depthwise_avx512.c - the depthwise kernel for AVX-512 (16 floats per
 * vector); compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma. */
#if defined(__x86_64__)
#define CSV_AVX512
#include "conv_special_vec.h"
#define DW_SUFFIX avx512
#include "conv_depthwise_tmpl.h"
#else
typedef int conv_depthwise_avx512_unused; /* ISO C: no empty translation units */
#endif
