/* conv_winograd_avx512.c - the Winograd F(4x4, 3x3) kernel for AVX512 (16 floats
 * per vector; register tile 8 tiles x 32 output channels). The
 * tiling must match wg_layout() in conv_winograd.c. */
#if defined(__x86_64__)
#define CSV_AVX512
#include "conv_special_vec.h"
#define WG_SUFFIX avx512
#define WG_MR 8
#define WG_NR 2
#include "conv_winograd_tmpl.h"
#else
typedef int conv_winograd_avx512_unused; /* ISO C: no empty translation units */
#endif
