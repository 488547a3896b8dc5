/* A backend module built for a future ABI version: the loader must refuse
 * it with a message and carry on. */
#include "engine/backend.h"

static const engine_backend_iface iface = {
    .abi_version = ENGINE_BACKEND_ABI_VERSION + 1000u,
    .struct_size = sizeof(engine_backend_iface),
    .name = "badabi",
};

__attribute__((visibility("default"))) const engine_backend_iface *engine_backend_entry(void);
const engine_backend_iface *engine_backend_entry(void) {
    return &iface;
}
