/* A shared module named like a backend but without the entry point. */
__attribute__((visibility("default"))) int not_an_engine_backend(void);
int not_an_engine_backend(void) {
    return 42;
}
