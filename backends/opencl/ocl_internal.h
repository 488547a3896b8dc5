/*
 * ocl_internal.h - what the OpenCL module's files share: the backend state,
 * the device record, and the device/program functions of device.c.
 */
#ifndef ENGINE_OCL_INTERNAL_H
#define ENGINE_OCL_INTERNAL_H

#include <stddef.h>

#include "engine/backend.h"
#include "ocl_api.h"

/* One OpenCL device as probed (capabilities read from the device itself,
 * never from a vendor list). */
typedef struct ocl_device {
    cl_platform_id platform;
    cl_device_id device;
    int platform_index, device_index;
    cl_device_type type;
    char name[128];
    char platform_name[128];
    char platform_version[128];
    char driver_version[64];
    int fp16;      /* cl_khr_fp16 */
    int subgroups; /* cl_khr_subgroups or cl_intel_subgroups */
    int images;    /* CL_DEVICE_IMAGE_SUPPORT */
    cl_uint compute_units;
    cl_ulong local_mem, global_mem, max_alloc;
} ocl_device;

typedef struct ocl_state {
    engine_allocator a;
    const engine_host_services *host;
    engine_log_fn log;
    void *log_user;
    const ocl_api *cl;
    ocl_device dev;      /* the selected device */
    char *describe;      /* every device, one line (allocated) */
    int fp16;            /* precision fp16: half storage, float arithmetic */
    int clblast;         /* 1: GEMM-shaped work through CLBlast (fp32 only) */
    cl_context ctx;
    cl_command_queue queue;      /* in order, no profiling */
    cl_command_queue prof_queue; /* created on the first timed run */
    cl_program program;          /* built once, on the first compile */
    /* Plugin ops' programs (cl_source), built once each, on first use. */
    struct {
        const void *op;
        cl_program program;
    } plugin_programs[16];
    int n_plugin_programs;
    double compile_ms;
    int from_cache, built;
} ocl_state;

/* device.c */
engine_status ocl_open(ocl_state *s, const engine_backend_config *config, char *err, size_t err_size);
void ocl_close(ocl_state *s);
/* Build (or load from the binary cache) the kernel program once. */
engine_status ocl_build_program(ocl_state *s, char *err, size_t err_size);
/* A short name of an OpenCL error code. */
const char *ocl_err_name(cl_int e);

/* The embedded kernel source: ocl_codes.h and the .cl files, concatenated at
 * build time (embed.c, in the order of meson.build's ocl_cl_sources). */
extern const char ocl_kernels_source[];

#endif /* ENGINE_OCL_INTERNAL_H */
