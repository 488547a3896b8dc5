/* backends/opencl/plugin.c - plugin ops (engine/plugin.h) whose op brings
 * OpenCL C: the op's program is built once per backend instance (with its
 * cl_build_options), and each node gets buffers of its own (offset 0,
 * float32 whatever the precision; constants uploaded as their bytes;
 * cl_args BUFFER arguments uploaded at compile): its inputs are copied out
 * of the arena by f_to_f32, the op's kernel is launched with plugin.h's
 * argument order and geometry (NULL buffers for omitted inputs/outputs),
 * and its outputs are copied back by f_from_f32 (tensor.cl). */
#include <stdio.h>
#include <string.h>

#include "ocl_builder.h"

/* A plugin node runs when its op brings OpenCL C and its non-constant
 * inputs and outputs are float32 (constants go up as their bytes). */
int ocl_supports_plugin(const engine_node *n) {
    const engine_plugin_op *op = n->plugin;
    if (!op->cl_source || !op->cl_kernel_name || !op->cl_geometry) return 0;
    if (n->n_inputs > op->max_inputs || n->n_outputs > op->max_outputs || op->max_inputs > ENGINE_PLUGIN_MAX_IO ||
        op->max_outputs > ENGINE_PLUGIN_MAX_IO)
        return 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *v = n->inputs[k];
        if (v && (!numel_ok(v) || (!v->data && v->dtype != ENGINE_DTYPE_F32))) return 0;
    }
    for (int k = 0; k < n->n_outputs; ++k) {
        const engine_value *v = n->outputs[k];
        if (v && (!numel_ok(v) || v->dtype != ENGINE_DTYPE_F32)) return 0;
    }
    return 1;
}

/* A buffer of the node's own, created at compile (module.c, realise) with
 * `data` copied in when non-NULL; returns its index or -1. */
static int own_new(ocl_builder *b, size_t size, const void *data) {
    if (b->st || !ocl_grow(b, (void **)&b->p->own_info, &b->cap_own, (size_t)b->p->n_own + 1, sizeof(ocl_own)))
        return -1;
    b->p->own_info[b->p->n_own] = (ocl_own){size ? size : 4, data};
    return b->p->n_own++;
}

/* The plugin op's program, built once per backend instance. */
static cl_program plugin_program(ocl_builder *b, const engine_node *n) {
    ocl_state *s = b->s;
    const engine_plugin_op *op = n->plugin;
    for (int k = 0; k < s->n_plugin_programs; ++k)
        if (s->plugin_programs[k].op == op) return s->plugin_programs[k].program;
    if (s->n_plugin_programs == (int)(sizeof s->plugin_programs / sizeof *s->plugin_programs)) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "more than 16 plugin ops with OpenCL kernels");
        return NULL;
    }
    cl_int e;
    const char *src = op->cl_source;
    cl_program prog = s->cl->CreateProgramWithSource(s->ctx, 1, &src, NULL, &e);
    if (!prog || e) {
        ocl_node_err(b, n, e == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND,
                     "creating the plugin's OpenCL program failed (%s)", ocl_err_name(e ? e : CL_OUT_OF_HOST_MEMORY));
        return NULL;
    }
    e = s->cl->BuildProgram(prog, 1, &s->dev.device, op->cl_build_options ? op->cl_build_options : "", NULL, NULL);
    if (e) {
        char log[400] = "", what[460];
        if (s->cl->GetProgramBuildInfo(prog, s->dev.device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL))
            log[0] = 0;
        log[sizeof log - 1] = 0;
        snprintf(what, sizeof what, "plugin kernel build failed (%s): %s", ocl_err_name(e), log);
        s->cl->ReleaseProgram(prog);
        ocl_node_err(b, n, ENGINE_ERR_BACKEND, "%s", what);
        return NULL;
    }
    s->plugin_programs[s->n_plugin_programs].op = op;
    s->plugin_programs[s->n_plugin_programs++].program = prog;
    return prog;
}

void ocl_emit_plugin(ocl_builder *b, const engine_node *n) {
    const engine_plugin_op *op = n->plugin;
    cl_program prog = plugin_program(b, n);
    if (!prog) return;
    ocl_arg args[OCL_MAX_ARGS];
    int na = 0, out_own[ENGINE_PLUGIN_MAX_IO], out_slot[ENGINE_PLUGIN_MAX_IO];
    memset(args, 0, sizeof args);
    for (int k = 0; k < op->max_inputs; ++k) {
        const engine_value *v = k < n->n_inputs ? n->inputs[k] : NULL;
        ocl_arg *a = &args[na++];
        *a = A_NULL();
        if (!v) continue;
        size_t es = host_size(v->dtype);
        size_t bytes = (size_t)numel(v) * es;
        if (v->data) {
            *a = A_OWN(own_new(b, bytes, v->data));
            continue;
        }
        int vs = ocl_slot_read(b, v), o = own_new(b, bytes, NULL);
        if (b->st) return;
        OCL_LAUNCH(b, "f_to_f32", (size_t)numel(v), A_T(vs, 0), A_OWN(o));
        *a = A_OWN(o);
    }
    for (int k = 0; k < op->max_outputs; ++k) {
        const engine_value *v = k < n->n_outputs ? n->outputs[k] : NULL;
        ocl_arg *a = &args[na++];
        *a = A_NULL();
        out_own[k] = -1;
        if (!v) continue;
        out_own[k] = own_new(b, (size_t)numel(v) * 4, NULL);
        *a = A_OWN(out_own[k]);
    }
    if (op->cl_args) {
        engine_plugin_cl_arg extra[ENGINE_PLUGIN_CL_MAX_ARGS];
        int ne = 0;
        char msg[256] = "";
        engine_status st = op->cl_args(n, extra, &ne, msg, sizeof msg);
        if (st || ne < 0 || ne > ENGINE_PLUGIN_CL_MAX_ARGS) {
            ocl_node_err(b, n, st ? st : ENGINE_ERR_INVALID_ARGUMENT, "the plugin's cl_args failed: %s", msg);
            return;
        }
        for (int j = 0; j < ne; ++j) {
            ocl_arg *a = &args[na++];
            if (extra[j].kind == ENGINE_PLUGIN_CL_ARG_BUFFER) {
                if (!extra[j].data || !extra[j].size) {
                    ocl_node_err(b, n, ENGINE_ERR_INVALID_ARGUMENT, "%s", "the plugin's cl_args gave an empty buffer");
                    return;
                }
                *a = A_OWN(own_new(b, extra[j].size, extra[j].data));
            } else {
                if (extra[j].size < 1 || extra[j].size > 16) {
                    ocl_node_err(b, n, ENGINE_ERR_INVALID_ARGUMENT, "%s", "a scalar argument of a bad size");
                    return;
                }
                a->kind = OCL_ARG_RAW;
                a->size = extra[j].size;
                memcpy(a->raw, extra[j].value, extra[j].size);
            }
        }
    }
    size_t gsz[3] = {1, 1, 1}, lsz[3] = {0, 0, 0};
    int wd = 0;
    if (op->cl_geometry(n, gsz, lsz, &wd) || wd < 1 || wd > 3) {
        ocl_node_err(b, n, ENGINE_ERR_INVALID_ARGUMENT, "%s", "the plugin's cl_geometry failed or gave a bad work_dim");
        return;
    }
    ocl_launch *l = ocl_launch_new(b, op->cl_kernel_name, gsz[0]);
    if (!l) return;
    l->prog = prog;
    l->work_dim = wd;
    memcpy(l->gsz, gsz, sizeof gsz);
    memcpy(l->lsz, lsz, sizeof lsz);
    l->use_local = lsz[0] != 0;
    l->nargs = na;
    memcpy(l->args, args, sizeof(ocl_arg) * (size_t)na);
    for (int k = 0; k < op->max_outputs && k < n->n_outputs; ++k) {
        if (out_own[k] < 0) continue;
        out_slot[k] = ocl_slot_write(b, n->outputs[k]);
        OCL_LAUNCH(b, "f_from_f32", (size_t)numel(n->outputs[k]), A_OWN(out_own[k]), A_T(out_slot[k], 0));
    }
}
