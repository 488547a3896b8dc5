/* backends/opencl/index.cl - the index family (index.c), OpenCL C 1.2:
 * GatherElements, GatherND, ScatterElements, ScatterND, OneHot and TopK.
 *
 * Index tensors are long (int64 and int32 alike, storage.c). An index read
 * here that is out of range (after adding the axis length to a negative
 * one) sets *flag = step + 1 and the kernel writes nothing from it (a
 * gather writes 0): no read or write leaves its buffer, and run() reports
 * the node as the reference does. Each kernel body is a macro written once
 * for both storage classes: T through LD/ST, long through LDL/STL. */

/* The data offset of the index tuple at ix[at .. at + k) over dims dm[0..k)
 * with strides dm[k..2k) (index_in each); -1 when one is out of range. */
static int tuple_offset(__global const long *ix, int at, __global const int *dm, int k) {
    int off = 0;
    for (int q = 0; q < k; ++q) {
        int v = index_in(ix[at + q], dm[q]);
        if (v < 0) return -1;
        off += v * dm[k + q];
    }
    return off;
}

/* GatherElements: one item per output (= index) element. meta: r, axis,
 * axis length, idims[r] (the index tensor's dims), xstrides[r]. */
#define GATHER_EL_BODY(LDX, STX, ZERO)                                                                              \
    int i = get_global_id(0);                                                                                        \
    int r = m[mo], ax = m[mo + 1];                                                                                   \
    int rem = i, off = 0;                                                                                            \
    for (int d = r - 1; d >= 0; --d) {                                                                               \
        int n = m[mo + 3 + d];                                                                                       \
        if (d != ax) off += (rem % n) * m[mo + 3 + r + d];                                                           \
        rem /= n;                                                                                                    \
    }                                                                                                                \
    int k = index_in(ix[io + i], m[mo + 2]);                                                                         \
    if (k < 0) {                                                                                                     \
        *flag = step + 1;                                                                                            \
        STX(y, yo + i, ZERO);                                                                                        \
        return;                                                                                                      \
    }                                                                                                                \
    STX(y, yo + i, LDX(x, xo + off + k * m[mo + 3 + r + ax]));

__kernel void f_gather_el(__global const int *m, int mo, __global const T *x, int xo, __global const long *ix, int io,
                          __global T *y, int yo, __global int *flag, int step) {
    GATHER_EL_BODY(LD, ST, 0.0f)
}

__kernel void f_gather_el_l(__global const int *m, int mo, __global const long *x, int xo, __global const long *ix,
                            int io, __global long *y, int yo, __global int *flag, int step) {
    GATHER_EL_BODY(LDL, STL, 0)
}

/* GatherND: one item per output element; output element i is element
 * i % slice of the slice that index tuple t = i / slice names, in batch
 * t / tuples. meta: k, slice, tuples (per batch), per_batch (data elements
 * per batch), dims[k], strides[k] (the data dims the tuple indexes). */
#define GATHER_ND_BODY(LDX, STX, ZERO)                                                                              \
    int i = get_global_id(0);                                                                                        \
    int k = m[mo], slice = m[mo + 1], tuples = m[mo + 2], per_batch = m[mo + 3];                                     \
    int t = i / slice;                                                                                               \
    int off = tuple_offset(ix, io + t * k, m + mo + 4, k);                                                           \
    if (off < 0) {                                                                                                   \
        *flag = step + 1;                                                                                            \
        STX(y, yo + i, ZERO);                                                                                        \
        return;                                                                                                      \
    }                                                                                                                \
    STX(y, yo + i, LDX(x, xo + (t / tuples) * per_batch + off + i % slice));

__kernel void f_gather_nd(__global const int *m, int mo, __global const T *x, int xo, __global const long *ix, int io,
                          __global T *y, int yo, __global int *flag, int step) {
    GATHER_ND_BODY(LD, ST, 0.0f)
}

__kernel void f_gather_nd_l(__global const int *m, int mo, __global const long *x, int xo, __global const long *ix,
                            int io, __global long *y, int yo, __global int *flag, int step) {
    GATHER_ND_BODY(LDL, STL, 0)
}

/* dst op= src for the scatter reductions (SC_* codes); SC_SET replaces.
 * Float max/min as the reference writes them (a > b ? a : b). */
static float scatter_f(float a, float b, int red) {
    switch (red) {
    case SC_ADD: return a + b;
    case SC_MUL: return a * b;
    case SC_MAX: return a > b ? a : b;
    case SC_MIN: return a < b ? a : b;
    default: return b;
    }
}

/* The same on long values of width nb: add and multiply wrap (computed
 * unsigned, then narrowed); max and min of two values of the width stay in it. */
static long scatter_l(long a, long b, int red, int nb) {
    switch (red) {
    case SC_ADD: return narrow_l((long)((ulong)a + (ulong)b), nb);
    case SC_MUL: return narrow_l((long)((ulong)a * (ulong)b), nb);
    case SC_MAX: return a > b ? a : b;
    case SC_MIN: return a < b ? a : b;
    default: return b;
    }
}

/* ScatterElements into y (already a copy of the data). Update p goes to
 * p's position with the axis coordinate replaced by its index. Two updates
 * reach the same element only along one line of the axis, so with
 * `serial` one item takes one line (the index tensor's position with the
 * axis coordinate 0) and applies its updates in order, as the reference
 * does: deterministic, no atomics; without (reduction none, where ONNX
 * leaves duplicates undefined) one item per update. meta: r, axis, axis
 * length of the data, idims[r], istrides[r], xstrides[r] (xdims[r]). */
#define SCATTER_EL_BODY(LDX, STX, COMBINE)                                                                          \
    int i = get_global_id(0);                                                                                        \
    int r = m[mo], ax = m[mo + 1], len = m[mo + 2];                                                                  \
    int rem = i, ioff = 0, xoff = 0, j0 = 0;                                                                         \
    for (int d = r - 1; d >= 0; --d) {                                                                               \
        int n = serial && d == ax ? 1 : m[mo + 3 + d];                                                               \
        int c = rem % n;                                                                                             \
        rem /= n;                                                                                                    \
        ioff += c * m[mo + 3 + r + d];                                                                               \
        if (d != ax) xoff += c * m[mo + 3 + 2 * r + d];                                                              \
        else j0 = c;                                                                                                 \
    }                                                                                                                \
    int j1 = serial ? m[mo + 3 + ax] : j0 + 1, ist = m[mo + 3 + r + ax], xst = m[mo + 3 + 2 * r + ax];                \
    ioff -= j0 * ist;                                                                                                \
    for (int j = j0; j < j1; ++j) {                                                                                  \
        int k = index_in(ix[io + ioff + j * ist], len);                                                              \
        if (k < 0) {                                                                                                 \
            *flag = step + 1;                                                                                        \
            return;                                                                                                  \
        }                                                                                                            \
        int dst = yo + xoff + k * xst;                                                                               \
        STX(y, dst, COMBINE(LDX(y, dst), LDX(u, uo + ioff + j * ist)));                                              \
    }

#define SC_COMBINE_F(a, b) scatter_f((a), (b), red)
#define SC_COMBINE_L(a, b) scatter_l((a), (b), red, nb)

__kernel void f_scatter_el(__global const int *m, int mo, __global const long *ix, int io, __global const T *u, int uo,
                           __global T *y, int yo, int red, int serial, __global int *flag, int step) {
    SCATTER_EL_BODY(LD, ST, SC_COMBINE_F)
}

__kernel void f_scatter_el_l(__global const int *m, int mo, __global const long *ix, int io, __global const long *u,
                             int uo, __global long *y, int yo, int red, int serial, int nb, __global int *flag,
                             int step) {
    SCATTER_EL_BODY(LDL, STL, SC_COMBINE_L)
}

/* ScatterND into y (already a copy of the data): update element (t, e)
 * goes to element e of the slice that tuple t names. Elements e of one
 * slice never meet another e, so with `serial` one item per slice element
 * e applies every tuple's update in order (deterministic, as the
 * reference); without (reduction none) one item per update element.
 * meta: k, slice, tuples, dims[k], strides[k]. */
#define SCATTER_ND_BODY(LDX, STX, COMBINE)                                                                          \
    int i = get_global_id(0);                                                                                        \
    int k = m[mo], slice = m[mo + 1];                                                                                \
    int e = serial ? i : i % slice;                                                                                  \
    int t0 = serial ? 0 : i / slice, t1 = serial ? m[mo + 2] : t0 + 1;                                               \
    for (int t = t0; t < t1; ++t) {                                                                                  \
        int off = tuple_offset(ix, io + t * k, m + mo + 3, k);                                                       \
        if (off < 0) {                                                                                               \
            *flag = step + 1;                                                                                        \
            return;                                                                                                  \
        }                                                                                                            \
        off += e;                                                                                                    \
        STX(y, yo + off, COMBINE(LDX(y, yo + off), LDX(u, uo + t * slice + e)));                                     \
    }

__kernel void f_scatter_nd(__global const int *m, int mo, __global const long *ix, int io, __global const T *u, int uo,
                           __global T *y, int yo, int red, int serial, __global int *flag, int step) {
    SCATTER_ND_BODY(LD, ST, SC_COMBINE_F)
}

__kernel void f_scatter_nd_l(__global const int *m, int mo, __global const long *ix, int io, __global const long *u,
                             int uo, __global long *y, int yo, int red, int serial, int nb, __global int *flag,
                             int step) {
    SCATTER_ND_BODY(LDL, STL, SC_COMBINE_L)
}

/* The same scatters by destination: one item per output element, which
 * starts from the data and applies, in the reference's order, every update
 * that reaches it, accumulating in a register (float for T: fp32 even in
 * fp16 storage) and storing once; no copy first. Every index is read by
 * some item, so each out-of-range one is flagged. Costs numel(y) times the
 * candidates (index.c chooses it when that is small). ScatterElements:
 * the candidates are the updates of the element's line (meta as
 * f_scatter_el, then the data's dims xdims[r]; nothing reaches an element
 * whose non-axis coordinate is past the index tensor's). ScatterND: every
 * tuple, whose offset must be the element's slice (meta as f_scatter_nd). */
#define SCATTER_EL_DST_BODY(VT, LDX, STX, COMBINE)                                                                  \
    int i = get_global_id(0);                                                                                        \
    int r = m[mo], ax = m[mo + 1], len = m[mo + 2];                                                                  \
    int rem = i, ioff = 0, at = 0, reach = 1;                                                                        \
    for (int d = r - 1; d >= 0; --d) {                                                                               \
        int n = m[mo + 3 + 3 * r + d];                                                                               \
        int c = rem % n;                                                                                             \
        rem /= n;                                                                                                    \
        if (d == ax) at = c;                                                                                         \
        else if (c < m[mo + 3 + d]) ioff += c * m[mo + 3 + r + d];                                                   \
        else reach = 0;                                                                                              \
    }                                                                                                                \
    VT acc = LDX(x, xo + i);                                                                                         \
    int cand = reach ? m[mo + 3 + ax] : 0, ist = m[mo + 3 + r + ax];                                                 \
    for (int j = 0; j < cand; ++j) {                                                                                 \
        int k = index_in(ix[io + ioff + j * ist], len);                                                              \
        if (k < 0) {                                                                                                 \
            *flag = step + 1;                                                                                        \
            break;                                                                                                   \
        }                                                                                                            \
        if (k == at) acc = COMBINE(acc, LDX(u, uo + ioff + j * ist));                                                \
    }                                                                                                                \
    STX(y, yo + i, acc);

__kernel void f_scatter_el_dst(__global const int *m, int mo, __global const T *x, int xo, __global const long *ix,
                               int io, __global const T *u, int uo, __global T *y, int yo, int red,
                               __global int *flag, int step) {
    SCATTER_EL_DST_BODY(float, LD, ST, SC_COMBINE_F)
}

__kernel void f_scatter_el_dst_l(__global const int *m, int mo, __global const long *x, int xo,
                                 __global const long *ix, int io, __global const long *u, int uo, __global long *y,
                                 int yo, int red, int nb, __global int *flag, int step) {
    SCATTER_EL_DST_BODY(long, LDL, STL, SC_COMBINE_L)
}

#define SCATTER_ND_DST_BODY(VT, LDX, STX, COMBINE)                                                                  \
    int i = get_global_id(0);                                                                                        \
    int k = m[mo], slice = m[mo + 1], tuples = m[mo + 2];                                                            \
    int e = i % slice, at = i - e;                                                                                   \
    VT acc = LDX(x, xo + i);                                                                                         \
    for (int t = 0; t < tuples; ++t) {                                                                               \
        int off = tuple_offset(ix, io + t * k, m + mo + 3, k);                                                       \
        if (off < 0) {                                                                                               \
            *flag = step + 1;                                                                                        \
            break;                                                                                                   \
        }                                                                                                            \
        if (off == at) acc = COMBINE(acc, LDX(u, uo + t * slice + e));                                               \
    }                                                                                                                \
    STX(y, yo + i, acc);

__kernel void f_scatter_nd_dst(__global const int *m, int mo, __global const T *x, int xo, __global const long *ix,
                               int io, __global const T *u, int uo, __global T *y, int yo, int red,
                               __global int *flag, int step) {
    SCATTER_ND_DST_BODY(float, LD, ST, SC_COMBINE_F)
}

__kernel void f_scatter_nd_dst_l(__global const int *m, int mo, __global const long *x, int xo,
                                 __global const long *ix, int io, __global const long *u, int uo, __global long *y,
                                 int yo, int red, int nb, __global int *flag, int step) {
    SCATTER_ND_DST_BODY(long, LDL, STL, SC_COMBINE_L)
}

/* OneHot: one item per output element of [outer, depth, inner]; the index
 * (T when il is 0, else long; the other pointer is bound to the same
 * buffer and never read) truncated toward zero, negative counted from
 * depth; one outside [-depth, depth) (or NaN) leaves its row off. vals:
 * off_value, on_value. */
static int onehot_pos(__global const T *xi, __global const long *xl, int at, int il, int depth) {
    long k;
    if (il) {
        k = xl[at];
    } else {
        float v = LD(xi, at);
        if (isnan(v) || fabs(v) >= 4.0e18f) return -1;
        k = (long)v; /* toward zero */
    }
    if (k < -(long)depth || k >= (long)depth) return -1;
    return (int)(k < 0 ? k + depth : k);
}

__kernel void f_onehot(__global const T *xi, int xio, __global const long *xl, int xlo, int il,
                       __global const T *vals, int vo, __global T *y, int yo, int depth, int inner) {
    int i = get_global_id(0);
    int in = i % inner, d = (i / inner) % depth, o = i / (inner * depth);
    int at = o * inner + in;
    int k = onehot_pos(xi, xl, (il ? xlo : xio) + at, il, depth);
    ST(y, yo + i, LD(vals, vo + (k == d)));
}

__kernel void f_onehot_l(__global const T *xi, int xio, __global const long *xl, int xlo, int il,
                         __global const long *vals, int vo, __global long *y, int yo, int depth, int inner) {
    int i = get_global_id(0);
    int in = i % inner, d = (i / inner) % depth, o = i / (inner * depth);
    int at = o * inner + in;
    int k = onehot_pos(xi, xl, (il ? xlo : xio) + at, il, depth);
    y[yo + i] = vals[vo + (k == d)];
}

/* TopK along an axis: element m of a row ranks before element j when it is
 * NaN and j is not (a NaN ranks above every number, as the reference's
 * sort), else when it is larger (smaller with !largest), else when equal
 * and m < j: a total order, so the ranks of a row are a permutation. */
static int topk_before(float vm, int m, float vj, int j, int largest) {
    int an = isnan(vm), bn = isnan(vj);
    if (an != bn) return an;
    if (!an && vm != vj) return largest ? vm > vj : vm < vj;
    return m < j;
}

static int topk_before_l(long vm, int m, long vj, int j, int largest) {
    if (vm != vj) return largest ? vm > vj : vm < vj;
    return m < j;
}

/* One work group of L items (a power of 2, at most 256) per block of L
 * elements of a row (dimension 0, padded to a multiple of L) and row
 * (dimension 1: outer * inner rows of `len` elements at stride `inner`).
 * Each item counts the elements ranking before its own, reading the row in
 * tiles of L through local memory; an element of rank below k is written
 * at that rank, with its index. O(len^2) per row, all of it parallel. */
#define TOPK_BODY(VT, LDX, STX, BEFORE)                                                                             \
    __local VT sh[256];                                                                                              \
    int j = get_global_id(0), row = get_global_id(1), l = get_local_id(0), L = get_local_size(0);                    \
    int base = (row / inner) * len * inner + row % inner;                                                            \
    VT v = j < len ? LDX(x, xo + base + j * inner) : (VT)0;                                                          \
    int rank = 0;                                                                                                    \
    for (int t = 0; t < len; t += L) {                                                                               \
        if (t + l < len) sh[l] = LDX(x, xo + base + (t + l) * inner);                                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                                \
        int n = min(L, len - t);                                                                                     \
        for (int q = 0; q < n; ++q) rank += BEFORE(sh[q], t + q, v, j, largest);                                     \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                                \
    }                                                                                                                \
    if (j < len && rank < k) {                                                                                       \
        int at = ((row / inner) * k + rank) * inner + row % inner;                                                   \
        STX(y, yo + at, v);                                                                                          \
        yi[yio + at] = j;                                                                                            \
    }

__kernel void f_topk(__global const T *x, int xo, __global T *y, int yo, __global long *yi, int yio, int len, int inner,
                     int k, int largest) {
    TOPK_BODY(float, LD, ST, topk_before)
}

__kernel void f_topk_l(__global const long *x, int xo, __global long *y, int yo, __global long *yi, int yio, int len,
                       int inner, int k, int largest) {
    TOPK_BODY(long, LDL, STL, topk_before_l)
}
