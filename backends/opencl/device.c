/* backends/opencl/device.c - device probing and selection, the kernel
 * program and its on-disk binary cache.
 *
 * Selection (config->device, else ENGINE_OPENCL_DEVICE, else "auto"):
 *   "auto" / ""     a GPU first, then any other non-CPU device, then a CPU
 *                   device (POCL); the score (module.c) makes "auto" over
 *                   backends prefer the SIMD cpu backend to a CPU device.
 *   "P:D"           platform P, device D (indices as --list-backends shows)
 *   anything else   the first device whose name or platform name contains
 *                   it (case-insensitive)
 *
 * Binary cache: $XDG_CACHE_HOME/engine/opencl (else ~/.cache/engine/opencl),
 * one file per key = hash(kernel source, build options, device name, driver
 * version, platform version). A file that is short, fails its checksum or
 * is refused by the driver is rebuilt from source and rewritten, silently.
 * ENGINE_OPENCL_CACHE=0 turns the cache off. ENGINE_OPENCL_BUILD_OPTIONS adds
 * build options (part of the key). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ocl_internal.h"

const char *ocl_err_name(cl_int e) {
    switch (e) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_PLATFORM_NOT_FOUND_KHR: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform)";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_PROFILING_INFO_NOT_AVAILABLE: return "CL_PROFILING_INFO_NOT_AVAILABLE";
    default: return "an OpenCL error";
    }
}

static void errf(char *err, size_t size, const char *fmt, const char *a, const char *b, const char *c) {
    if (err && size) snprintf(err, size, fmt, a, b, c);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void dev_str(const ocl_api *cl, cl_device_id d, cl_device_info what, char *buf, size_t size) {
    buf[0] = 0;
    if (cl->GetDeviceInfo(d, what, size - 1, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[size - 1] = 0;
}

static void probe_device(const ocl_api *cl, ocl_device *o) {
    char ext[4096];
    dev_str(cl, o->device, CL_DEVICE_NAME, o->name, sizeof o->name);
    dev_str(cl, o->device, CL_DRIVER_VERSION, o->driver_version, sizeof o->driver_version);
    dev_str(cl, o->device, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    o->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    o->subgroups = strstr(ext, "cl_khr_subgroups") != NULL || strstr(ext, "cl_intel_subgroups") != NULL;
    cl_bool img = CL_FALSE;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_IMAGE_SUPPORT, sizeof img, &img, NULL) != CL_SUCCESS) img = CL_FALSE;
    o->images = img == CL_TRUE;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_TYPE, sizeof o->type, &o->type, NULL) != CL_SUCCESS)
        o->type = CL_DEVICE_TYPE_DEFAULT;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof o->compute_units, &o->compute_units, NULL))
        o->compute_units = 0;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof o->vec_float, &o->vec_float, NULL))
        o->vec_float = 0;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof o->local_mem, &o->local_mem, NULL))
        o->local_mem = 0;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof o->global_mem, &o->global_mem, NULL))
        o->global_mem = 0;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof o->max_alloc, &o->max_alloc, NULL))
        o->max_alloc = 0;
    if (cl->GetDeviceInfo(o->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof o->max_wg, &o->max_wg, NULL))
        o->max_wg = 0;
}

static const char *type_name(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

/* Preference for "auto": GPU, then other accelerators, then CPU. */
static int type_rank(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return 3;
    if (t & CL_DEVICE_TYPE_CPU) return 1;
    return 2;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0) return 1;
    for (; *hay; ++hay) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k])) ++k;
        if (k == n) return 1;
    }
    return 0;
}

/* Appends one device line to the description. */
static void describe_add(char *buf, size_t size, const ocl_device *o, int selected) {
    size_t len = strlen(buf);
    if (len + 1 >= size) return;
    snprintf(buf + len, size - len,
             "%s[%d:%d] %s (%s, %s, driver %s): %u CUs, %llu MiB global, %llu KiB local, fp16 %s, subgroups %s, "
             "images %s%s",
             len ? "; " : "", o->platform_index, o->device_index, o->name, type_name(o->type), o->platform_name,
             o->driver_version, o->compute_units, (unsigned long long)(o->global_mem >> 20),
             (unsigned long long)(o->local_mem >> 10), o->fp16 ? "yes" : "no", o->subgroups ? "yes" : "no",
             o->images ? "yes" : "no", selected ? " *selected*" : "");
}

engine_status ocl_open(ocl_state *s, const engine_backend_config *config, char *err, size_t err_size) {
    const ocl_api *cl = s->cl;
    cl_platform_id plats[16];
    cl_uint np = 0;
    cl_int e = cl->GetPlatformIDs(16, plats, &np);
    if (e != CL_SUCCESS || np == 0) {
        errf(err, err_size, "opencl: no OpenCL platform (%s)%s%s", e ? ocl_err_name(e) : "none installed", "", "");
        return ENGINE_ERR_BACKEND;
    }
    if (np > 16) np = 16;
    const char *spec = config->device && config->device[0] ? config->device : getenv("ENGINE_OPENCL_DEVICE");
    if (spec && (!spec[0] || strcmp(spec, "auto") == 0)) spec = NULL;
    int want_p = -1, want_d = -1;
    if (spec) {
        char tail = 0;
        if (sscanf(spec, "%d:%d%c", &want_p, &want_d, &tail) != 2) want_p = want_d = -1;
    }
    size_t dsize = 4096;
    s->describe = s->a.alloc(s->a.user, dsize, 1);
    if (!s->describe) {
        errf(err, err_size, "opencl: out of memory%s%s%s", "", "", "");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    s->describe[0] = 0;
    int found = 0, n_devices = 0;
    ocl_device best;
    memset(&best, 0, sizeof best);
    /* Two passes: choose, then describe with the choice marked. */
    for (int pass = 0; pass < 2; ++pass) {
        for (cl_uint p = 0; p < np; ++p) {
            cl_device_id devs[16];
            cl_uint nd = 0;
            if (cl->GetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd) != CL_SUCCESS) continue;
            if (nd > 16) nd = 16;
            for (cl_uint d = 0; d < nd; ++d) {
                ocl_device o;
                memset(&o, 0, sizeof o);
                o.platform = plats[p];
                o.device = devs[d];
                o.platform_index = (int)p;
                o.device_index = (int)d;
                if (cl->GetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof o.platform_name - 1, o.platform_name,
                                        NULL))
                    o.platform_name[0] = 0;
                if (cl->GetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof o.platform_version - 1,
                                        o.platform_version, NULL))
                    o.platform_version[0] = 0;
                probe_device(cl, &o);
                if (pass == 1) {
                    describe_add(s->describe, dsize, &o, found && o.device == best.device);
                    continue;
                }
                ++n_devices;
                int match;
                if (want_p >= 0) match = (int)p == want_p && (int)d == want_d;
                else if (spec) match = contains_nocase(o.name, spec) || contains_nocase(o.platform_name, spec);
                else match = !found || type_rank(o.type) > type_rank(best.type);
                if (match && (!found || !spec)) {
                    best = o;
                    found = 1;
                }
            }
        }
    }
    if (!found) {
        char what[160];
        snprintf(what, sizeof what, "%d device(s) seen", n_devices);
        errf(err, err_size, "opencl: no OpenCL device matches '%s' (%s; %s)", spec ? spec : "auto", what,
             s->describe[0] ? s->describe : "none");
        return ENGINE_ERR_BACKEND;
    }
    s->dev = best;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)best.platform, 0};
    s->ctx = cl->CreateContext(props, 1, &best.device, NULL, NULL, &e);
    if (!s->ctx || e != CL_SUCCESS) {
        s->ctx = NULL;
        errf(err, err_size, "opencl: device '%s': cannot create a context (%s)%s", best.name, ocl_err_name(e), "");
        return e == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND;
    }
    s->queue = cl->CreateCommandQueue(s->ctx, best.device, 0, &e);
    if (!s->queue || e != CL_SUCCESS) {
        s->queue = NULL;
        errf(err, err_size, "opencl: device '%s': cannot create a command queue (%s)%s", best.name,
             ocl_err_name(e), "");
        return e == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND;
    }
    return ENGINE_OK;
}

void ocl_close(ocl_state *s) {
    for (int k = 0; k < s->n_plugin_programs; ++k) s->cl->ReleaseProgram(s->plugin_programs[k].program);
    s->n_plugin_programs = 0;
    if (s->program) s->cl->ReleaseProgram(s->program);
    if (s->prof_queue) s->cl->ReleaseCommandQueue(s->prof_queue);
    if (s->queue) s->cl->ReleaseCommandQueue(s->queue);
    if (s->ctx) s->cl->ReleaseContext(s->ctx);
    if (s->describe) s->a.free(s->a.user, s->describe);
    s->program = NULL;
    s->prof_queue = s->queue = NULL;
    s->ctx = NULL;
    s->describe = NULL;
}

/* ---- the binary cache ---- */

/* FNV-1a, 64 bits, continued from h. */
static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t k = 0; k < n; ++k) h = (h ^ p[k]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
    return fnv(h, s, strlen(s) + 1); /* the NUL separates fields */
}

/* The cache folder (created when missing) in buf; 0 when off or unusable. */
int ocl_cache_dir(char *buf, size_t size) {
    const char *off = getenv("ENGINE_OPENCL_CACHE");
    if (off && strcmp(off, "0") == 0) return 0;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/') n = snprintf(buf, size, "%s/engine/opencl", xdg);
    else if (home && home[0]) n = snprintf(buf, size, "%s/.cache/engine/opencl", home);
    else return 0;
    if (n < 0 || (size_t)n >= size) return 0;
    /* mkdir -p */
    for (char *p = buf + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return 0;
        *p = '/';
    }
    return mkdir(buf, 0700) == 0 || errno == EEXIST;
}

#define CACHE_MAGIC "ENGOCL01"

/* Reads a cache file: the binary (allocated) and its size, or NULL. */
static unsigned char *cache_read(ocl_state *s, const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char magic[8];
    uint64_t n = 0, sum = 0;
    unsigned char *bin = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CACHE_MAGIC, 8) != 0 || fread(&n, sizeof n, 1, f) != 1 ||
        fread(&sum, sizeof sum, 1, f) != 1 || n == 0 || n > ((uint64_t)1 << 30))
        goto bad;
    bin = s->a.alloc(s->a.user, (size_t)n, 16);
    if (!bin || fread(bin, 1, (size_t)n, f) != (size_t)n || fnv(0xcbf29ce484222325ull, bin, (size_t)n) != sum)
        goto bad;
    fclose(f);
    *size = (size_t)n;
    return bin;
bad:
    if (bin) s->a.free(s->a.user, bin);
    fclose(f);
    return NULL;
}

/* Writes the binary atomically (temporary file, then rename); failures are
 * ignored: the cache is an optimisation. */
static void cache_write(const char *path, const unsigned char *bin, size_t n) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp) return;
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    uint64_t n64 = n, sum = fnv(0xcbf29ce484222325ull, bin, n);
    int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&n64, sizeof n64, 1, f) == 1 &&
             fwrite(&sum, sizeof sum, 1, f) == 1 && fwrite(bin, 1, n, f) == n;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) remove(tmp);
}

static engine_status build_fail(ocl_state *s, cl_program prog, cl_int e, char *err, size_t err_size) {
    char log[600] = "";
    if (prog) {
        size_t got = 0;
        if (s->cl->GetProgramBuildInfo(prog, s->dev.device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, &got) !=
            CL_SUCCESS)
            log[0] = 0;
        log[sizeof log - 1] = 0;
    }
    if (err && err_size)
        snprintf(err, err_size, "opencl: device '%s': kernel program build failed (%s)%s%s", s->dev.name,
                 ocl_err_name(e), log[0] ? ": " : "", log);
    return e == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND;
}

engine_status ocl_build_program(ocl_state *s, char *err, size_t err_size) {
    if (s->program) return ENGINE_OK;
    const ocl_api *cl = s->cl;
    /* ENGINE_OPENCL_BUILD_OPTIONS appends options (tuning such as
     * -cl-mad-enable; the tests pass a bad one to fault a real build). */
    char options[512];
    const char *extra = getenv("ENGINE_OPENCL_BUILD_OPTIONS");
    snprintf(options, sizeof options, "-cl-std=CL1.2%s%s%s", s->fp16 ? " -DENGINE_FP16" : "", extra ? " " : "",
             extra ? extra : "");
    double t0 = now_ms();
    char dir[4096], path[4200];
    int use_cache = ocl_cache_dir(dir, sizeof dir);
    if (use_cache) {
        uint64_t h = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
        const char *fields[] = {ocl_kernels_source, options, s->dev.name, s->dev.driver_version,
                                s->dev.platform_version};
        for (size_t k = 0; k < sizeof fields / sizeof *fields; ++k) {
            h = fnv_str(h, fields[k]);
            h2 = fnv_str(h2, fields[k]);
        }
        snprintf(path, sizeof path, "%s/%016llx%016llx.bin", dir, (unsigned long long)h, (unsigned long long)h2);
        size_t n = 0;
        unsigned char *bin = cache_read(s, path, &n);
        if (bin) {
            cl_int e, bs;
            const unsigned char *bp = bin;
            cl_program prog = cl->CreateProgramWithBinary(s->ctx, 1, &s->dev.device, &n, &bp, &bs, &e);
            s->a.free(s->a.user, bin);
            if (prog && e == CL_SUCCESS && bs == CL_SUCCESS &&
                cl->BuildProgram(prog, 1, &s->dev.device, options, NULL, NULL) == CL_SUCCESS) {
                s->program = prog;
                s->from_cache = 1;
                s->compile_ms = now_ms() - t0;
                return ENGINE_OK;
            }
            /* Stale or corrupt: rebuilt from source below, silently. */
            if (prog) cl->ReleaseProgram(prog);
        }
    }
    cl_int e;
    const char *src = ocl_kernels_source;
    cl_program prog = cl->CreateProgramWithSource(s->ctx, 1, &src, NULL, &e);
    if (!prog || e != CL_SUCCESS) return build_fail(s, NULL, e ? e : CL_OUT_OF_HOST_MEMORY, err, err_size);
    e = cl->BuildProgram(prog, 1, &s->dev.device, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        engine_status st = build_fail(s, prog, e, err, err_size);
        cl->ReleaseProgram(prog);
        return st;
    }
    s->program = prog;
    s->built = 1;
    s->compile_ms = now_ms() - t0;
    if (use_cache) {
        size_t n = 0;
        if (cl->GetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) == CL_SUCCESS && n > 0) {
            unsigned char *bin = s->a.alloc(s->a.user, n, 16);
            if (bin) {
                if (cl->GetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS)
                    cache_write(path, bin, n);
                s->a.free(s->a.user, bin);
            }
        }
    }
    return ENGINE_OK;
}

int ocl_kernel_fits(ocl_state *s, cl_kernel k, size_t wg, char *why, size_t why_size) {
    size_t kwg = 0;
    cl_ulong lmem = 0;
    if (s->cl->GetKernelWorkGroupInfo(k, s->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL)) kwg = 0;
    if (s->cl->GetKernelWorkGroupInfo(k, s->dev.device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL)) lmem = 0;
    size_t cap = s->wg_cap;
    if (kwg && (!cap || kwg < cap)) cap = kwg;
    if (cap && wg > cap) {
        if (why && why_size)
            snprintf(why, why_size, "a work group of %zu items exceeds the %zu this kernel may use on this device%s", wg,
                     cap, s->gpu_limits ? " (ENGINE_OPENCL_GPU_LIMITS)" : "");
        return 0;
    }
    if (s->local_cap && lmem > s->local_cap) {
        if (why && why_size)
            snprintf(why, why_size, "%llu bytes of local memory exceed the %llu this device allows%s",
                     (unsigned long long)lmem, (unsigned long long)s->local_cap,
                     s->gpu_limits ? " (ENGINE_OPENCL_GPU_LIMITS)" : "");
        return 0;
    }
    return 1;
}
