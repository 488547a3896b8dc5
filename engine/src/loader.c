/* loader.c - contexts and backend modules: discovery, dlopen, ABI check.
 *
 * Search order (first module of a name wins, later ones are skipped):
 *   1. engine_context_options.backend_path (folders or .so files, ':'-separated)
 *   2. $ENGINE_BACKEND_PATH (same form)
 *   3. the build tree: <folder of libengine>/../backends/<any>/ (in-tree runs)
 *      and ENGINE_BUILD_ROOT/backends/<any>/ for tests linked statically
 *   4. the install folder: <folder of libengine>/engine/backends (a relocated
 *      install), then <libdir>/engine/backends (ENGINE_MODULE_DIR)
 * A module is a file named engine-backend-<name>.so. One that cannot be
 * opened, lacks the entry point, or has another ABI version is recorded in
 * the context's rejection list and logged; loading goes on. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "weights.h"

#define MODULE_PREFIX "engine-backend-"
#define MODULE_SUFFIX ".so"

static void add_rejection(engine_context *ctx, const char *path, const char *why) {
    size_t old = ctx->rejections ? strlen(ctx->rejections) : 0;
    size_t add = strlen(path) + strlen(why) + 4;
    char *r = eng_alloc(ctx, old + add + 1);
    if (!r) return; /* the rejection list is best effort; the log still has it */
    if (old) memcpy(r, ctx->rejections, old);
    snprintf(r + old, add + 1, "%s: %s\n", path, why);
    eng_free(ctx, ctx->rejections);
    ctx->rejections = r;
    eng_log(ctx, ENGINE_LOG_WARN, "backend module %s skipped: %s", path, why);
}

static int has_module_name(const char *file) {
    size_t len = strlen(file), pl = strlen(MODULE_PREFIX), sl = strlen(MODULE_SUFFIX);
    return len > pl + sl && strncmp(file, MODULE_PREFIX, pl) == 0 && strcmp(file + len - sl, MODULE_SUFFIX) == 0;
}

static eng_backend *find_backend(engine_context *ctx, const char *name) {
    for (int k = 0; k < ctx->n_backends; ++k)
        if (strcmp(ctx->backends[k].name, name) == 0) return &ctx->backends[k];
    return NULL;
}

/* Opens one module. quiet_duplicates: a module whose name is already loaded
 * (found again later in the search path) is skipped without a rejection. */
static engine_status load_module(engine_context *ctx, const char *path, int quiet_duplicates) {
    char why[512];
    if (ctx->n_backends >= ENG_MAX_BACKENDS) {
        add_rejection(ctx, path, "too many backends loaded");
        return eng_error(ctx, ENGINE_ERR_BACKEND, "%s: too many backends loaded", path);
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "cannot be opened: %s", e ? e : "unknown dlopen error");
        add_rejection(ctx, path, why);
        return eng_error(ctx, ENGINE_ERR_BACKEND, "backend module %s %s", path, why);
    }
    engine_backend_entry_fn entry;
    void *sym = dlsym(dl, ENGINE_BACKEND_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX allows */
    const engine_backend_iface *iface = entry ? entry() : NULL;
    if (!iface) {
        snprintf(why, sizeof why, "no %s entry point (or it returned NULL)", ENGINE_BACKEND_ENTRY_SYMBOL);
        goto reject;
    }
    if (iface->abi_version != ENGINE_BACKEND_ABI_VERSION) {
        snprintf(why, sizeof why, "built for backend ABI version %u, this engine has version %u", iface->abi_version,
                 ENGINE_BACKEND_ABI_VERSION);
        goto reject;
    }
    if (iface->struct_size != sizeof(engine_backend_iface) || !iface->name || !iface->name[0] || !iface->create ||
        !iface->destroy || !iface->score || !iface->supports || !iface->compile || !iface->run || !iface->release) {
        snprintf(why, sizeof why, "incomplete backend interface table");
        goto reject;
    }
    if (find_backend(ctx, iface->name)) {
        dlclose(dl);
        if (quiet_duplicates) return ENGINE_OK;
        return eng_error(ctx, ENGINE_ERR_BACKEND, "a backend named '%s' is already loaded", iface->name);
    }
    eng_backend *b = &ctx->backends[ctx->n_backends];
    memset(b, 0, sizeof *b);
    b->name = eng_strdup(ctx, iface->name);
    b->path = eng_strdup(ctx, path);
    if (!b->name || !b->path) {
        eng_free(ctx, b->name);
        eng_free(ctx, b->path);
        dlclose(dl);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory loading backend %s", path);
    }
    b->dl = dl;
    b->iface = iface;
    ctx->n_backends++;
    eng_log(ctx, ENGINE_LOG_INFO, "backend '%s' loaded from %s", iface->name, path);
    return ENGINE_OK;
reject:
    dlclose(dl);
    add_rejection(ctx, path, why);
    return eng_error(ctx, ENGINE_ERR_ABI, "backend module %s refused: %s", path, why);
}

/* Loads every module in a folder (sorted by name, so runs are repeatable). */
static void scan_dir(engine_context *ctx, const char *dir) {
    struct dirent **list = NULL;
    int count = scandir(dir, &list, NULL, alphasort);
    if (count < 0) return;
    for (int k = 0; k < count; ++k) {
        if (has_module_name(list[k]->d_name)) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", dir, list[k]->d_name) < (int)sizeof path)
                (void)load_module(ctx, path, 1);
        }
        free(list[k]);
    }
    free(list);
}

/* dir/<any>/ for each sub-folder: the build tree keeps one folder per backend. */
static void scan_subdirs(engine_context *ctx, const char *dir) {
    struct dirent **list = NULL;
    int count = scandir(dir, &list, NULL, alphasort);
    if (count < 0) return;
    for (int k = 0; k < count; ++k) {
        if (list[k]->d_name[0] != '.') {
            char path[PATH_MAX];
            struct stat st;
            if (snprintf(path, sizeof path, "%s/%s", dir, list[k]->d_name) < (int)sizeof path && stat(path, &st) == 0 &&
                S_ISDIR(st.st_mode))
                scan_dir(ctx, path);
        }
        free(list[k]);
    }
    free(list);
}

static void scan_path_list(engine_context *ctx, const char *list) {
    if (!list) return;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && len < PATH_MAX) {
            char item[PATH_MAX];
            memcpy(item, p, len);
            item[len] = 0;
            struct stat st;
            if (stat(item, &st) == 0 && S_ISDIR(st.st_mode))
                scan_dir(ctx, item);
            else
                (void)load_module(ctx, item, 1);
        }
        if (!end) break;
        p = end + 1;
    }
}

static void scan_default_locations(engine_context *ctx, const char *extra) {
    scan_path_list(ctx, extra);
    scan_path_list(ctx, getenv("ENGINE_BACKEND_PATH"));
    Dl_info info;
    if (dladdr((void *)&engine_context_create, &info) && info.dli_fname) {
        char self[PATH_MAX];
        if (realpath(info.dli_fname, self)) {
            char *slash = strrchr(self, '/');
            if (slash) {
                *slash = 0;
                char dir[PATH_MAX];
                if (snprintf(dir, sizeof dir, "%s/../backends", self) < (int)sizeof dir) scan_subdirs(ctx, dir);
                /* An installed libengine next to its modules (<libdir>/engine/backends),
                 * wherever the tree was installed or moved (meson install --destdir). */
                if (snprintf(dir, sizeof dir, "%s/engine/backends", self) < (int)sizeof dir) scan_dir(ctx, dir);
            }
        }
    }
#ifdef ENGINE_BUILD_ROOT
    scan_subdirs(ctx, ENGINE_BUILD_ROOT "/backends");
#endif
#ifdef ENGINE_MODULE_DIR
    scan_dir(ctx, ENGINE_MODULE_DIR);
#endif
}

engine_status engine_context_create(const engine_context_options *opts, engine_context **out) {
    if (!out) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_context tmp;
    memset(&tmp, 0, sizeof tmp);
    eng_context_init_allocator(&tmp, opts ? &opts->allocator : NULL);
    engine_context *ctx = tmp.allocator.alloc(tmp.allocator.user, sizeof *ctx, 64);
    if (!ctx) return ENGINE_ERR_OUT_OF_MEMORY;
    *ctx = tmp;
    if (opts) {
        ctx->log = opts->log;
        ctx->log_user = opts->log_user;
        ctx->log_level = opts->log_level;
        ctx->max_tensor_bytes = opts->max_tensor_bytes;
    }
    if (!opts || !opts->no_default_backends) scan_default_locations(ctx, opts ? opts->backend_path : NULL);
    eng_plugins_load_env(ctx); /* $ENGINE_PLUGIN_PATH (plugin.c) */
    ctx->message[0] = 0;
    *out = ctx;
    return ENGINE_OK;
}

void engine_context_destroy(engine_context *ctx) {
    if (!ctx) return;
    eng_plugins_free(ctx);
    for (int k = ctx->n_backends - 1; k >= 0; --k) {
        eng_backend *b = &ctx->backends[k];
        while (b->insts) {
            eng_binst *i = b->insts;
            b->insts = i->next;
            i->mod->iface->destroy(i->state);
            eng_free(ctx, i->device);
            eng_free(ctx, i->precision);
            eng_free(ctx, i->tune);
            eng_free(ctx, i->spin);
            eng_free(ctx, i);
        }
        eng_free(ctx, b->name);
        eng_free(ctx, b->path);
        eng_free(ctx, b->description);
        if (b->dl) dlclose(b->dl);
    }
    eng_free(ctx, ctx->rejections);
    engine_allocator a = ctx->allocator;
    a.free(a.user, ctx);
}

engine_status engine_context_load_backend(engine_context *ctx, const char *path) {
    if (!ctx || !path) return ENGINE_ERR_INVALID_ARGUMENT;
    return load_module(ctx, path, 0);
}

int engine_backend_count(const engine_context *ctx) {
    return ctx ? ctx->n_backends : 0;
}

const char *engine_backend_name(const engine_context *ctx, int index) {
    if (!ctx || index < 0 || index >= ctx->n_backends) return NULL;
    return ctx->backends[index].name;
}

const char *engine_backend_rejections(const engine_context *ctx) {
    return ctx && ctx->rejections ? ctx->rejections : "";
}

/* Backends are started lazily, the first time a session or a query needs
 * them; each distinct (threads, device, precision, tune) gets its own
 * instance, so a second session with other options gets what it asked for. */
static const char *opt_str(const char *s) {
    return s ? s : "";
}

engine_status eng_backend_ensure(engine_context *ctx, eng_backend *b, const engine_session_options *o,
                                 eng_binst **out) {
    static const engine_host_services host = {sizeof(engine_host_services), eng_plan_arena, eng_constant_consumed};
    int threads = o ? o->threads : 0;
    const char *device = opt_str(o ? o->device : NULL), *precision = opt_str(o ? o->precision : NULL),
               *tune = opt_str(o ? o->tune : NULL), *spin = opt_str(o ? o->spin : NULL);
    for (eng_binst *i = b->insts; i; i = i->next)
        if (i->threads == threads && !strcmp(i->device, device) && !strcmp(i->precision, precision) &&
            !strcmp(i->tune, tune) && !strcmp(i->spin, spin)) {
            *out = i;
            return ENGINE_OK;
        }
    eng_binst *inst = eng_calloc(ctx, 1, sizeof *inst);
    if (inst) {
        inst->device = eng_strdup(ctx, device);
        inst->precision = eng_strdup(ctx, precision);
        inst->tune = eng_strdup(ctx, tune);
        inst->spin = eng_strdup(ctx, spin);
    }
    if (!inst || !inst->device || !inst->precision || !inst->tune || !inst->spin) {
        if (inst) {
            eng_free(ctx, inst->device);
            eng_free(ctx, inst->precision);
            eng_free(ctx, inst->tune);
            eng_free(ctx, inst->spin);
        }
        eng_free(ctx, inst);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory starting backend '%s'", b->name);
    }
    inst->mod = b;
    inst->threads = threads;
    engine_backend_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator = ctx->allocator;
    cfg.log = ctx->log;
    cfg.log_user = ctx->log_user;
    cfg.threads = threads;
    cfg.device = device[0] ? device : NULL;
    cfg.precision = precision[0] ? precision : NULL;
    cfg.tune = tune[0] ? tune : NULL;
    cfg.spin = spin[0] ? spin : NULL;
    cfg.host = &host;
    char err[512] = "";
    engine_status st = b->iface->create(&cfg, &inst->state, err, sizeof err);
    if (st) {
        eng_free(ctx, inst->device);
        eng_free(ctx, inst->precision);
        eng_free(ctx, inst->tune);
        eng_free(ctx, inst->spin);
        eng_free(ctx, inst);
        return eng_error(ctx, st, "backend '%s' failed to start: %s", b->name, err[0] ? err : engine_status_str(st));
    }
    inst->next = b->insts;
    b->insts = inst;
    *out = inst;
    return ENGINE_OK;
}

const char *engine_backend_description(const engine_context *ctx, int index) {
    if (!ctx || index < 0 || index >= ctx->n_backends) return NULL;
    engine_context *mctx = (engine_context *)ctx; /* lazily created state is a cache */
    eng_backend *b = &mctx->backends[index];
    eng_binst *i;
    if (eng_backend_ensure(mctx, b, NULL, &i)) return "unavailable";
    return b->iface->describe ? b->iface->describe(i->state) : b->name;
}

int engine_backend_score(const engine_context *ctx, int index) {
    if (!ctx || index < 0 || index >= ctx->n_backends) return -1;
    engine_context *mctx = (engine_context *)ctx;
    eng_backend *b = &mctx->backends[index];
    eng_binst *i;
    if (eng_backend_ensure(mctx, b, NULL, &i)) return -1;
    return b->iface->score(i->state);
}
