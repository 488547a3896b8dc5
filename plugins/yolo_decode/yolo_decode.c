/* plugins/yolo_decode/yolo_decode.c - an example multi-input plugin op: a
 * YOLO-style (v3) box decoder.
 *
 *   op:      YoloDecode, domain "com.example", every opset of that domain
 *   inputs:  X        float32 [N, A*(5+C), H, W], a raw detection head
 *            img_size float32 [2] (height, width), optional: when given,
 *                     boxes are divided by it (normalised coordinates)
 *   output:  Y        float32 [N, A*H*W, 5+C], row r = (a*H + h)*W + w:
 *                     cx = (sigmoid(tx) + w) * stride
 *                     cy = (sigmoid(ty) + h) * stride
 *                     bw = exp(tw) * anchors[2a]
 *                     bh = exp(th) * anchors[2a+1]
 *                     objectness and the C class scores through sigmoid
 *   attrs:   anchors (floats, required: A (width, height) pairs in pixels)
 *            stride  (int, default 32)
 *
 * The grid comes from the input's shape; A from the anchors; C from the
 * channel count. */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include <engine/plugin.h>

typedef struct yolo_dims {
    int64_t n, a, c, h, w; /* batch, anchors, classes, grid */
} yolo_dims;

static engine_status yolo_dims_of(const engine_node *node, yolo_dims *d, char *err, size_t err_size) {
    const engine_value *x = node->inputs[0];
    const engine_value *img = engine_node_input(node, 1);
    int n_anchor_values;
    const float *anchors = engine_plugin_attr_floats(node, "anchors", &n_anchor_values);
    if (x->dtype != ENGINE_DTYPE_F32 || x->rank != 4) {
        snprintf(err, err_size, "input X must be a float32 NCHW tensor (got %s, rank %d)",
                 engine_dtype_name(x->dtype), x->rank);
        return ENGINE_ERR_SHAPE;
    }
    if (img && (img->dtype != ENGINE_DTYPE_F32 || engine_value_numel(img) != 2)) {
        snprintf(err, err_size, "input img_size must be 2 float32 values (height, width)");
        return ENGINE_ERR_SHAPE;
    }
    if (n_anchor_values < 2 || n_anchor_values % 2 != 0 || !anchors) {
        snprintf(err, err_size, "attribute anchors must hold (width, height) pairs, got %d values", n_anchor_values);
        return ENGINE_ERR_INVALID_MODEL;
    }
    if (engine_plugin_attr_int(node, "stride") <= 0) {
        snprintf(err, err_size, "attribute stride must be positive");
        return ENGINE_ERR_INVALID_MODEL;
    }
    d->n = x->dims[0];
    d->a = n_anchor_values / 2;
    d->h = x->dims[2];
    d->w = x->dims[3];
    if (x->dims[1] % d->a != 0 || x->dims[1] / d->a < 5) {
        snprintf(err, err_size, "%lld channels are not %lld anchors x (5 + classes)", (long long)x->dims[1],
                 (long long)d->a);
        return ENGINE_ERR_SHAPE;
    }
    d->c = x->dims[1] / d->a - 5;
    if (engine_value_numel(x) > INT_MAX) { /* the OpenCL kernel indexes with int */
        snprintf(err, err_size, "input X has more than %d elements", INT_MAX);
        return ENGINE_ERR_SHAPE;
    }
    return ENGINE_OK;
}

static engine_status yolo_shape(const engine_node *node, engine_value *const *outputs, char *err, size_t err_size) {
    yolo_dims d;
    engine_status st = yolo_dims_of(node, &d, err, err_size);
    if (st) return st;
    outputs[0]->dtype = ENGINE_DTYPE_F32;
    outputs[0]->rank = 3;
    outputs[0]->dims[0] = d.n;
    outputs[0]->dims[1] = d.a * d.h * d.w;
    outputs[0]->dims[2] = 5 + d.c;
    return ENGINE_OK;
}

static float sigmoid(float v) {
    return 1.0f / (1.0f + expf(-v));
}

static engine_status yolo_host(const engine_node *node, const void *const *inputs, void *const *outputs) {
    yolo_dims d;
    char err[8];
    if (yolo_dims_of(node, &d, err, sizeof err)) return ENGINE_ERR_SHAPE;
    int n_anchor_values;
    const float *anchors = engine_plugin_attr_floats(node, "anchors", &n_anchor_values);
    const float stride = (float)engine_plugin_attr_int(node, "stride");
    const float *x = inputs[0];
    const float *img = node->n_inputs > 1 ? inputs[1] : NULL;
    float *y = outputs[0];
    const float sy = img ? 1.0f / img[0] : 1.0f, sx = img ? 1.0f / img[1] : 1.0f;
    const int64_t fields = 5 + d.c, plane = d.h * d.w;
    for (int64_t n = 0; n < d.n; ++n)
        for (int64_t a = 0; a < d.a; ++a) {
            const float *xa = x + (n * d.a + a) * fields * plane; /* channel a*(5+C) of image n */
            for (int64_t h = 0; h < d.h; ++h)
                for (int64_t w = 0; w < d.w; ++w) {
                    const int64_t p = h * d.w + w;
                    float *row = y + ((n * d.a + a) * plane + p) * fields;
                    row[0] = (sigmoid(xa[0 * plane + p]) + (float)w) * stride * sx;
                    row[1] = (sigmoid(xa[1 * plane + p]) + (float)h) * stride * sy;
                    row[2] = expf(xa[2 * plane + p]) * anchors[2 * a] * sx;
                    row[3] = expf(xa[3 * plane + p]) * anchors[2 * a + 1] * sy;
                    for (int64_t f = 4; f < fields; ++f) row[f] = sigmoid(xa[f * plane + p]);
                }
        }
    return ENGINE_OK;
}

/* One work-item per output row (n, a, h, w). Bound by the backend: X,
 * img_size (NULL when absent), Y; then the extra arguments below. */
static const char yolo_cl[] =
    "static float yd_sigmoid(float v) { return 1.0f / (1.0f + exp(-v)); }\n"
    "__kernel void yolo_decode_f32(__global const float *x, __global const float *img, __global float *y,\n"
    "                              __global const float *anchors, const int rows, const int A, const int C,\n"
    "                              const int H, const int W, const float stride) {\n"
    "    const int r = (int)get_global_id(0);\n"
    "    if (r >= rows) return;\n"
    "    const int plane = H * W, fields = 5 + C;\n"
    "    const int p = r % plane, na = r / plane, a = na % A;\n"
    "    const int h = p / W, w = p % W;\n"
    "    const float sy = img ? 1.0f / img[0] : 1.0f, sx = img ? 1.0f / img[1] : 1.0f;\n"
    "    __global const float *xa = x + na * fields * plane;\n"
    "    __global float *row = y + r * fields;\n"
    "    row[0] = (yd_sigmoid(xa[p]) + (float)w) * stride * sx;\n"
    "    row[1] = (yd_sigmoid(xa[plane + p]) + (float)h) * stride * sy;\n"
    "    row[2] = exp(xa[2 * plane + p]) * anchors[2 * a] * sx;\n"
    "    row[3] = exp(xa[3 * plane + p]) * anchors[2 * a + 1] * sy;\n"
    "    for (int f = 4; f < fields; ++f) row[f] = yd_sigmoid(xa[f * plane + p]);\n"
    "}\n";

static engine_status yolo_cl_args(const engine_node *node, engine_plugin_cl_arg *args, int *n_args, char *err,
                                  size_t err_size) {
    yolo_dims d;
    engine_status st = yolo_dims_of(node, &d, err, err_size);
    if (st) return st;
    int n_anchor_values;
    const float *anchors = engine_plugin_attr_floats(node, "anchors", &n_anchor_values);
    args[0] = engine_plugin_cl_buffer(anchors, (size_t)n_anchor_values * sizeof(float));
    args[1] = engine_plugin_cl_int((int32_t)(d.n * d.a * d.h * d.w));
    args[2] = engine_plugin_cl_int((int32_t)d.a);
    args[3] = engine_plugin_cl_int((int32_t)d.c);
    args[4] = engine_plugin_cl_int((int32_t)d.h);
    args[5] = engine_plugin_cl_int((int32_t)d.w);
    args[6] = engine_plugin_cl_float((float)engine_plugin_attr_int(node, "stride"));
    *n_args = 7;
    return ENGINE_OK;
}

static engine_status yolo_cl_geometry(const engine_node *node, size_t global[3], size_t local[3], int *work_dim) {
    const engine_value *y = node->outputs[0];
    size_t rows = (size_t)(y->dims[0] * y->dims[1]);
    (void)local; /* the implementation picks the group size: global is exact */
    *work_dim = 1;
    global[0] = rows ? rows : 1;
    return ENGINE_OK;
}

static const engine_plugin_attr yolo_attrs[] = {
    {.name = "anchors", .type = ENGINE_ATTR_FLOATS, .required = 1},
    {.name = "stride", .type = ENGINE_ATTR_INT, .default_int = 32},
};

static const engine_plugin_op yolo_op = {
    .abi_version = ENGINE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(engine_plugin_op),
    .domain = "com.example",
    .op_type = "YoloDecode",
    .opset_min = 1,
    .opset_max = ENGINE_PLUGIN_OPSET_ANY,
    .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1,
    .attrs = yolo_attrs,
    .n_attrs = 2,
    .shape = yolo_shape,
    .host_kernel = yolo_host,
    .cl_source = yolo_cl,
    .cl_kernel_name = "yolo_decode_f32",
    .cl_args = yolo_cl_args,
    .cl_geometry = yolo_cl_geometry,
};

ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host);

ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    if (host->abi_version != ENGINE_PLUGIN_ABI_VERSION) return ENGINE_ERR_ABI;
    return host->register_op(host->registry, &yolo_op);
}
