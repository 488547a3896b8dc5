/* backends/opencl/elementwise.cl - the activation and elementwise
 * families (elementwise.c), OpenCL C 1.2: unary ops, broadcast binary and
 * ternary ops of the storage type, their integer (long) forms, and the
 * conversions of Cast between the two storage classes. */

/* A unary op (U_* code) of the storage type: activations, Sqrt/Exp/Log,
 * Neg/Abs, copies, Cast to bool. */
__kernel void f_unary(__global const T *x, int xo, __global T *y, int yo, int op, float a, float b) {
    int i = get_global_id(0);
    ST(y, yo + i, act_f(LD(x, xo + i), op, a, b));
}

/* Broadcast binary/ternary ops. meta: r, dims[r], sa[r], sb[r], sc[r]
 * (element strides of each input over the output's index, 0 on broadcast);
 * op is a B_* code. */
__kernel void f_broadcast(__global const int *m, int mo, __global const T *pa, int ao, __global const T *pb, int bo,
                          __global const T *pc, int co, __global T *y, int yo, int op) {
    int i = get_global_id(0);
    int r = m[mo];
    int ia = ao, ib = bo, ic = co, rem = i;
    for (int d = r - 1; d >= 0; --d) {
        int n = m[mo + 1 + d];
        int k = rem % n;
        rem /= n;
        ia += k * m[mo + 1 + r + d];
        ib += k * m[mo + 1 + 2 * r + d];
        ic += k * m[mo + 1 + 3 * r + d];
    }
    float a = LD(pa, ia), b = LD(pb, ib), v;
    switch (op) {
    case B_ADD: v = a + b; break;
    case B_SUB: v = a - b; break;
    case B_MUL: v = a * b; break;
    case B_DIV: v = a / b; break;
    case B_POW: v = pow(a, b); break;
    case B_PRELU: v = a < 0.0f ? a * b : a; break;
    case B_EQUAL: v = a == b ? 1.0f : 0.0f; break;
    case B_MIN: v = isnan(a) || isnan(b) ? NAN : fmin(a, b); break;
    case B_MAX: v = isnan(a) || isnan(b) ? NAN : fmax(a, b); break;
    case B_FMOD: v = fmod(a, b); break;
    case B_GT: v = a > b ? 1.0f : 0.0f; break;
    case B_LT: v = a < b ? 1.0f : 0.0f; break;
    case B_GE: v = a >= b ? 1.0f : 0.0f; break;
    case B_LE: v = a <= b ? 1.0f : 0.0f; break;
    case B_AND: v = a != 0.0f && b != 0.0f ? 1.0f : 0.0f; break;
    case B_OR: v = a != 0.0f || b != 0.0f ? 1.0f : 0.0f; break;
    case B_XOR: v = (a != 0.0f) != (b != 0.0f) ? 1.0f : 0.0f; break;
    default: v = a != 0.0f ? b : LD(pc, ic); break; /* Where(cond=a, x=b, y=c) */
    }
    ST(y, yo + i, v);
}

/* float -> integer: toward zero, NaN 0, out of range saturated to int64
 * (the reference's to_i64), then wrapped to the width. */
static long f_to_l(float f, int nb) {
    long v;
    if (isnan(f)) v = 0;
    else if (f >= 9.2233720368547758e18f) v = LONG_MAX;
    else if (f <= -9.2233720368547758e18f) v = LONG_MIN;
    else v = (long)f;
    return narrow_l(v, nb);
}

/* Copies (Identity, Reshape...; op U_COPY), Neg, Abs and Sign of long tensors,
 * wrapped to the width (also Cast between integer widths). */
__kernel void f_unary_l(__global const long *x, int xo, __global long *y, int yo, int op, int nb) {
    int i = get_global_id(0);
    long v = x[xo + i];
    /* negation through unsigned: wraps instead of overflowing */
    if (op == U_NEG || (op == U_ABS && v < 0)) v = (long)(0UL - (ulong)v);
    else if (op == U_SIGN) v = v > 0 ? 1 : (v < 0 ? -1 : 0);
    y[yo + i] = narrow_l(v, nb);
}

/* Broadcast index of element i for up to three inputs (meta as f_broadcast). */
#define BCAST_INDEX                                                                                                   \
    int i = get_global_id(0);                                                                                        \
    int r = m[mo];                                                                                                   \
    int ia = ao, ib = bo, ic = co, rem = i;                                                                          \
    for (int d = r - 1; d >= 0; --d) {                                                                               \
        int n = m[mo + 1 + d];                                                                                       \
        int k = rem % n;                                                                                             \
        rem /= n;                                                                                                    \
        ia += k * m[mo + 1 + r + d];                                                                                 \
        ib += k * m[mo + 1 + 2 * r + d];                                                                             \
        ic += k * m[mo + 1 + 3 * r + d];                                                                             \
    }

/* Add/Sub/Mul/Div/Min/Max/Mod of long tensors (B_* codes), wrapping; Div
 * truncates toward zero, MIN / -1 gives MIN (the reference's rule); B_FMOD
 * is the truncating remainder, B_MOD takes the divisor's sign, x % -1 is 0;
 * a divisor of 0 is an error. */
__kernel void f_arith_l(__global const int *m, int mo, __global const long *pa, int ao, __global const long *pb,
                        int bo, __global long *y, int yo, int op, int nb, __global int *flag, int step) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    ulong a = (ulong)pa[ia], b = (ulong)pb[ib];
    long v;
    switch (op) {
    case B_ADD: v = (long)(a + b); break;
    case B_SUB: v = (long)(a - b); break;
    case B_MUL: v = (long)(a * b); break;
    case B_MIN: v = min((long)a, (long)b); break;
    case B_MAX: v = max((long)a, (long)b); break;
    case B_FMOD: case B_MOD: {
        long sa = (long)a, sb = (long)b;
        if (sb == 0) {
            *flag = step + 1;
            v = 0;
        } else if (sb == -1) {
            v = 0;
        } else {
            v = sa % sb;
            if (op == B_MOD && v != 0 && ((v < 0) != (sb < 0))) v += sb;
        }
        break;
    }
    default: {
        long sa = (long)a, sb = (long)b;
        long mn = nb == NB_I32 ? (long)INT_MIN : LONG_MIN;
        if (sb == 0) {
            *flag = step + 1;
            v = 0;
        } else if (sb == -1) {
            v = sa == mn ? mn : -sa;
        } else {
            v = sa / sb;
        }
        break;
    }
    }
    y[yo + i] = narrow_l(v, nb);
}

/* Equal of long tensors: a bool (T 0/1) result. */
__kernel void f_equal_l(__global const int *m, int mo, __global const long *pa, int ao, __global const long *pb, int bo,
                        __global T *y, int yo) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    ST(y, yo + i, pa[ia] == pb[ib] ? 1.0f : 0.0f);
}

/* Comparisons of long tensors (B_EQUAL, B_GT, B_LT, B_GE, B_LE): a bool
 * (T 0/1) result. */
__kernel void f_cmp_l(__global const int *m, int mo, __global const long *pa, int ao, __global const long *pb, int bo,
                      __global T *y, int yo, int op) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    long a = pa[ia], b = pb[ib];
    int v = op == B_GT ? a > b : op == B_LT ? a < b : op == B_GE ? a >= b : op == B_LE ? a <= b : a == b;
    ST(y, yo + i, v ? 1.0f : 0.0f);
}

/* Where(cond, X, Y) with long X and Y; cond is bool (T 0/1). */
__kernel void f_where_l(__global const int *m, int mo, __global const T *pa, int ao, __global const long *pb, int bo,
                        __global const long *pc, int co, __global long *y, int yo) {
    BCAST_INDEX
    y[yo + i] = LD(pa, ia) != 0.0f ? pb[ib] : pc[ic];
}

/* Pow with a float base and an integer exponent: float result. */
__kernel void f_pow_l(__global const int *m, int mo, __global const T *pa, int ao, __global const long *pb, int bo,
                      __global T *y, int yo) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    ST(y, yo + i, pow(LD(pa, ia), (float)pb[ib]));
}

/* Pow with an integer base (long, width nb: NB_I64 or NB_I32): an integer
 * exponent >= 0 (el) raises exactly, wrapping; otherwise (a float exponent
 * ef, or a negative one) the power in float is truncated toward zero and
 * saturated to the width, as the reference does in double. */
__kernel void f_pow_i(__global const int *m, int mo, __global const long *pa, int ao, __global const long *el,
                      int eo, __global const T *ef, int fo, __global long *y, int yo, int nb) {
    int co = 0, bo = el ? eo : fo;
    BCAST_INDEX
    (void)ic;
    long base = pa[ia];
    float e = el ? (float)el[ib] : LD(ef, ib);
    long v;
    if (el && el[ib] >= 0) {
        ulong r = 1, b = (ulong)base;
        for (ulong k = (ulong)el[ib]; k; k >>= 1) {
            if (k & 1) r *= b;
            b *= b;
        }
        v = (long)r;
    } else {
        float f = trunc(pow((float)base, e));
        float hi = nb == NB_I32 ? 2147483647.0f : 9.2233720368547758e18f;
        float lo = nb == NB_I32 ? -2147483648.0f : -9.2233720368547758e18f;
        v = isnan(f) ? 0 : f >= hi ? (nb == NB_I32 ? (long)INT_MAX : LONG_MAX)
                     : f <= lo ? (nb == NB_I32 ? (long)INT_MIN : LONG_MIN) : (long)f;
    }
    y[yo + i] = narrow_l(v, nb);
}

/* Cast float or bool (T) -> integer (long, wrapped to nb). */
__kernel void f_cast_tl(__global const T *x, int xo, __global long *y, int yo, int nb) {
    int i = get_global_id(0);
    y[yo + i] = f_to_l(LD(x, xo + i), nb);
}

/* Cast integer (long) -> float, or -> bool when tobool. */
__kernel void f_cast_lt(__global const long *x, int xo, __global T *y, int yo, int tobool) {
    int i = get_global_id(0);
    long v = x[xo + i];
    ST(y, yo + i, tobool ? (v != 0 ? 1.0f : 0.0f) : (float)v);
}
