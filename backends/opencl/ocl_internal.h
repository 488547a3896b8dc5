/*
 * ocl_internal.h - what the OpenCL module's files share: the backend state,
 * the device record, and the device/program functions of device.c.
 */
#ifndef ENGINE_OCL_INTERNAL_H
#define ENGINE_OCL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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
    size_t max_wg; /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    cl_uint vec_float; /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT (0: unknown) */
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
    /* The convolution auto-tuner (tune.c): level, table (NULL until first
     * use), layers tuned and the time spent, for program_stats. */
    int tune_level;
    void *tune;
    /* Work-group size and local memory a launch may use: the device's, or
     * with ENGINE_OPENCL_GPU_LIMITS=1 at most 256 items and 32 KiB (what
     * AMD and many GPUs allow), so that a kernel that fits only a CPU
     * device fails on POCL too. */
    size_t wg_cap;
    cl_ulong local_cap;
    int gpu_limits;
    /* Per conv_tiled.cl variant (tune.c): the largest work group it may
     * use here, 0 not yet probed, -1 none (its local memory does not fit). */
    long conv_cap[16];
    int tuned;
    double tune_ms;
    /* Packed weights shared by the instance's programs (builder.c). */
    struct ocl_wentry *wstore;
    /* Launches that have run once on this instance (module.c, trial pass):
     * an open-addressed set of 64-bit keys (kernel and work-group size, or
     * an SGEMM's shape), so a later program's trial runs only what is new. */
    uint64_t *proven;
    size_t n_proven, cap_proven;
} ocl_state;

/* Tuning levels (engine_backend_config.tune / ENGINE_OPENCL_TUNE). */
enum { OCL_TUNE_NONE, OCL_TUNE_FAST, OCL_TUNE_FULL };

/* device.c */
engine_status ocl_open(ocl_state *s, const engine_backend_config *config, char *err, size_t err_size);
void ocl_close(ocl_state *s);
/* The on-disk cache folder (created when missing) in buf: the program
 * binaries and the tuning table live there; 0 when off
 * (ENGINE_OPENCL_CACHE=0) or unusable. */
int ocl_cache_dir(char *buf, size_t size);
/* Build (or load from the binary cache) the kernel program once. */
engine_status ocl_build_program(ocl_state *s, char *err, size_t err_size);
/* IEEE half conversions (round to nearest even), module.c. */
uint16_t ocl_f32_to_f16(float f);
float ocl_f16_to_f32(uint16_t h);
/* Whether kernel `k` may run work groups of `wg` items on this device
 * under the caps above (its own CL_KERNEL_WORK_GROUP_SIZE and local memory
 * included); 0 with the reason in why. */
int ocl_kernel_fits(ocl_state *s, cl_kernel k, size_t wg, char *why, size_t why_size);
/* A short name of an OpenCL error code. */
const char *ocl_err_name(cl_int e);

/* The embedded kernel source: ocl_codes.h and the .cl files, concatenated at
 * build time (embed.c, in the order of meson.build's ocl_cl_sources). */
extern const char ocl_kernels_source[];

#endif /* ENGINE_OCL_INTERNAL_H */
