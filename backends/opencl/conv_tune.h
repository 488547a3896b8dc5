/*
 * conv_tune.h - the variants of the fast convolution kernels
 * (conv_tiled.cl), how each is launched, the default choice per device,
 * and the auto-tuner that times the variants on the device and keeps the
 * winners in a file beside the program-binary cache (tune.c).
 */
#ifndef ENGINE_OCL_CONV_TUNE_H
#define ENGINE_OCL_CONV_TUNE_H

#include <stddef.h>

#include "ocl_internal.h"

/* Kernel families of conv_tiled.cl: register-blocked over flattened pixels
 * (RB), row vectors (RV), pointwise vectors (PW), local-memory tiles (TILE). */
typedef enum { CV_RB, CV_RV, CV_PW, CV_TILE } conv_kind;

typedef struct conv_variant {
    const char *name; /* the kernel */
    conv_kind kind;
    int rm, rn;       /* register tile RM x RN (RB, RV, PW), work-group tile TM x TN (TILE) */
} conv_variant;

/* Indices into ocl_conv_variants (the table's order). */
enum {
    CVI_PW_8x16, CVI_PW_8x8, CVI_RV_8x16, CVI_RV_8x8, CVI_RB_8x4, CVI_RB_8x8,
    CVI_TILE_64x64, CVI_TILE_32x64, CVI_TILE_64x32, CVI_TILE_32x32
};
extern const conv_variant ocl_conv_variants[];
extern const int ocl_n_conv_variants;
/* The index of a variant by kernel name, or -1. */
int ocl_conv_variant_find(const char *name);

/* How one convolution runs: through Winograd F(2x2,3x3) or directly, the
 * kernel variant (of the GEMM, for Winograd), the split-K factor (TILE
 * only; 1 none) and the local size (lx, ly; 0: the driver's, TILE fixes
 * its own). */
typedef struct conv_choice {
    int wino, variant, ks, lx, ly;
} conv_choice;

/* A convolution as the emitter and the tuner see it: the 19-int geometry
 * of conv_tiled.cl's meta (g[16..18] are filled per launch), the batch,
 * and what it allows. */
typedef struct ocl_conv_desc {
    int g[19];
    int batch;
    int pointwise; /* 1x1, stride 1, no pads */
    int wino_ok;   /* 3x3, stride 1, dilation 1, fp32 storage */
    const float *w; /* the weights as the model holds them: [M][C][KH][KW] */
    const float *bias; /* or NULL */
} ocl_conv_desc;

/* Global and local sizes of variant v over a GEMM of P pixels (OH rows of
 * OW for RV), M output channels (Mp padded), `batch` images and split-K
 * ks; lx, ly as in conv_choice. */
void ocl_conv_geometry(const conv_variant *v, int P, int OH, int OW, int M, int Mp, int batch, int ks, int lx, int ly,
                       size_t *gs, size_t *ls, int *use_local);

/* The choice when nothing is tuned: on CPU devices the explicit-vector
 * kernels with work groups across the output channels, on GPUs the tiles
 * (split along K, up to 8 slices of at least 64, while the tiles fill
 * fewer than 2 work groups per compute unit). */
conv_choice ocl_conv_default(const ocl_state *s, const ocl_conv_desc *d);

/* Packs the weights for the direct kernels, Wp [K][Mp] (zero rows past M),
 * or for Winograd, U = G g G^T as [16][C][Mp]. out holds K*Mp or
 * 16*C*Mp floats. */
/* wino 0: Wp [K][Mp]; 1: Winograd's U [16][C][Mp]; 2: U in 8-wide panels
 * [16][Mp/8][C][8] (f_conv_pwb_8x8). */
void ocl_conv_pack(const ocl_conv_desc *d, int wino, float *out);

/* The choice for d: the tuning table's entry when there is one (the file
 * is read on first use); else, when the session's level is fast or full,
 * the winner of timing the candidates on the device, each checked against
 * the plain f_conv kernel's output first (added to the table); else the
 * default. A choice whose work group exceeds what its kernel may use here
 * (ocl_kernel_fits) is replaced by a vector kernel with the driver's local
 * size. A tuning error leaves the default; 0 only when a kernel could not
 * be created to probe its limits (an OpenCL failure). */
int ocl_conv_choose(ocl_state *s, const ocl_conv_desc *d, conv_choice *out);

/* Writes the tuning table when it gained entries (atomically; failures
 * ignored: the table is an optimisation). */
void ocl_tune_save(ocl_state *s);
/* Saves and frees the table (backend destroy). */
void ocl_tune_close(ocl_state *s);

#endif /* ENGINE_OCL_CONV_TUNE_H */
