/* backends/opencl/reduce.cl - the reduce and softmax families (reduce.c),
 * OpenCL C 1.2: the reductions (and the global pools), ArgMax/ArgMin,
 * Softmax and LogSoftmax. */

/* The reductions (R_* codes) and the global pools. meta: r, op, mask,
 * dims[r]. One work item per output element. */
__kernel void f_reduce(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo], op = m[mo + 1], mask = m[mo + 2];
    __global const int *dims = m + mo + 3;
    int base = xo + dims_offset(dims, r, mask, 0, i), count = dims_count(dims, r, mask);
    float init = op == R_MAX || op == R_LSE ? -INFINITY : (op == R_MIN ? INFINITY : (op == R_PROD ? 1.0f : 0.0f));
    float acc = init, mx = 0.0f;
    /* LogSumExp: pass 0 finds the maximum, pass 1 sums exp(v - max) */
    for (int pass = 0; pass < (op == R_LSE ? 2 : 1); ++pass) {
        if (pass == 1) {
            mx = acc;
            if (isinf(mx) || isnan(mx)) break; /* all -inf (or none), a +inf or a NaN: the maximum is the answer */
            acc = 0.0f;
        }
        for (int j = 0; j < count; ++j) {
            float v = LD(x, base + dims_offset(dims, r, mask, 1, j));
            switch (op) {
            case R_MAX: case R_LSE:
                if (pass == 1) acc += exp(v - mx);
                else acc = (v > acc || isnan(v)) ? v : acc;
                break;
            case R_MIN: acc = (v < acc || isnan(v)) ? v : acc; break;
            case R_PROD: acc *= v; break;
            case R_L1: acc += fabs(v); break;
            case R_L2: case R_SSQ: acc += v * v; break;
            default: acc += v; break;
            }
        }
        if (op == R_LSE && pass == 1) acc = mx + log(acc);
    }
    if (op == R_MEAN) acc = count > 0 ? acc / (float)count : NAN;
    if (op == R_L2) acc = sqrt(acc);
    ST(y, yo + i, acc);
}

/* f_reduce on int64 (long) tensors: ReduceSum, Max, Min, Prod, L1 and
 * SumSquare in wrapping (ulong) arithmetic, as the reference; an empty set
 * gives the op's identity (LONG_MIN for Max, LONG_MAX for Min). */
__kernel void f_reduce_l(__global const int *m, int mo, __global const long *x, int xo, __global long *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo], op = m[mo + 1], mask = m[mo + 2];
    __global const int *dims = m + mo + 3;
    int base = xo + dims_offset(dims, r, mask, 0, i), count = dims_count(dims, r, mask);
    ulong acc = op == R_PROD ? 1ul : 0ul;
    long mx = LONG_MIN, mn = LONG_MAX;
    for (int j = 0; j < count; ++j) {
        long v = x[base + dims_offset(dims, r, mask, 1, j)];
        ulong u = as_ulong(v);
        switch (op) {
        case R_MAX: mx = v > mx ? v : mx; break;
        case R_MIN: mn = v < mn ? v : mn; break;
        case R_PROD: acc *= u; break;
        case R_L1: acc += v < 0 ? 0ul - u : u; break;
        case R_SSQ: acc += u * u; break;
        default: acc += u; break;
        }
    }
    y[yo + i] = op == R_MAX ? mx : op == R_MIN ? mn : as_long(acc);
}

/* ArgMax (is_max) / ArgMin along one axis: one work item per (outer,
 * inner) position of a row of `len` elements at stride `inner`; the index
 * (long) of the first extreme, of the last with `last`; a NaN is the
 * extreme (numpy). x is T (float) or long (xl). */
__kernel void f_argmax(__global const T *x, int xo, __global const long *xlng, int xlo, __global long *y, int yo,
                       int len, int inner, int is_max, int last, int xl) {
    int i = get_global_id(0);
    int base = (xl ? xlo : xo) + (i / inner) * len * inner + i % inner;
    int best = 0;
    if (xl) {
        long bv = xlng[base];
        for (int k = 1; k < len; ++k) {
            long v = xlng[base + k * inner];
            if ((is_max ? v > bv : v < bv) || (last && v == bv)) {
                best = k;
                bv = v;
            }
        }
    } else {
        float bv = LD(x, base);
        for (int k = 1; k < len; ++k) {
            float v = LD(x, base + k * inner);
            int better, tie;
            if (isnan(bv)) {
                better = 0;
                tie = isnan(v);
            } else if (isnan(v)) {
                better = 1;
                tie = 0;
            } else {
                better = is_max ? v > bv : v < bv;
                tie = v == bv;
            }
            if (better || (last && tie)) {
                best = k;
                bv = v;
            }
        }
    }
    y[yo + i] = best;
}

/* Softmax / LogSoftmax / Hardmax (mode 0, 1, 2) along one axis: one work
 * item per (outer, inner) row of `len` elements at stride `inner`. Hardmax
 * is 1 at the first maximum. */
__kernel void f_softmax(__global const T *x, int xo, __global T *y, int yo, int len, int inner, int mode) {
    int i = get_global_id(0);
    int base = (i / inner) * len * inner + i % inner;
    if (mode == 2) {
        int best = 0;
        float bv = LD(x, xo + base);
        for (int k = 1; k < len; ++k) {
            float v = LD(x, xo + base + k * inner);
            if (v > bv) {
                bv = v;
                best = k;
            }
        }
        for (int k = 0; k < len; ++k) ST(y, yo + base + k * inner, k == best ? 1.0f : 0.0f);
        return;
    }
    float mx = -INFINITY;
    for (int k = 0; k < len; ++k) mx = fmax(mx, LD(x, xo + base + k * inner));
    float sum = 0.0f;
    for (int k = 0; k < len; ++k) sum += exp(LD(x, xo + base + k * inner) - mx);
    float ls = log(sum);
    for (int k = 0; k < len; ++k) {
        float d = LD(x, xo + base + k * inner) - mx;
        ST(y, yo + base + k * inner, mode == 1 ? d - ls : exp(d) / sum);
    }
}

/* LpNormalization: one work item per row (as f_softmax), y = x / ||x||_p. */
__kernel void f_lpnorm(__global const T *x, int xo, __global T *y, int yo, int len, int inner, int p) {
    int i = get_global_id(0);
    int base = (i / inner) * len * inner + i % inner;
    float acc = 0.0f;
    for (int k = 0; k < len; ++k) {
        float v = LD(x, xo + base + k * inner);
        acc += p == 1 ? fabs(v) : v * v;
    }
    float nrm = p == 1 ? acc : sqrt(acc);
    for (int k = 0; k < len; ++k) ST(y, yo + base + k * inner, LD(x, xo + base + k * inner) / nrm);
}

/* CumSum: one work item per row (as f_softmax); exclusive starts from 0,
 * reverse runs from the row's end. f_cumsum_l: long rows, wrapped to nb. */
#define CUMSUM_BODY(LOAD, STORE, ACC_T, ZERO)                                                                        \
    int i = get_global_id(0);                                                                                        \
    int base = (i / inner) * len * inner + i % inner;                                                                \
    ACC_T acc = ZERO;                                                                                                \
    for (int j = 0; j < len; ++j) {                                                                                  \
        int k = rev ? len - 1 - j : j;                                                                               \
        ACC_T v = LOAD(x, xo + base + k * inner);                                                                    \
        if (!excl) acc += v;                                                                                         \
        STORE(y, yo + base + k * inner, acc);                                                                        \
        if (excl) acc += v;                                                                                          \
    }
__kernel void f_cumsum(__global const T *x, int xo, __global T *y, int yo, int len, int inner, int excl, int rev) {
    CUMSUM_BODY(LD, ST, float, 0.0f)
}
#define STL_NB(p, i, v) ((p)[(i)] = narrow_l((long)(v), nb))
#define LDL_U(p, i) ((ulong)(p)[(i)])
__kernel void f_cumsum_l(__global const long *x, int xo, __global long *y, int yo, int len, int inner, int excl,
                         int rev, int nb) {
    CUMSUM_BODY(LDL_U, STL_NB, ulong, 0UL)
}
