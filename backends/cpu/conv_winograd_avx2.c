/* conv_winograd_avx2.c - the Winograd F(4x4, 3x3) kernel for AVX2 (8 floats
 * per vector; register tile 6 tiles x 16 output channels). The
 * tiling must match wg_layout() in conv_winograd.c. */
#if defined(__x86_64__)
#define CSV_AVX2
#include "conv_special_vec.h"
#define WG_SUFFIX avx2
#define WG_MR 6
#define WG_NR 2
#include "conv_winograd_tmpl.h"
#else
typedef int conv_winograd_avx2_unused; /* ISO C: no empty translation units */
#endif
