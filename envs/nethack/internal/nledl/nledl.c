/* nledl.c: see nledl.h. Also compiled on its own by bench/nle for the plain C baseline. */
#define _GNU_SOURCE
#include "nledl.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(long) == 8, "LP64 only");
_Static_assert(offsetof(gonle_obs, glyphs) == 16, "nle_obs.glyphs");
_Static_assert(offsetof(gonle_obs, blstats) == 48, "nle_obs.blstats");
_Static_assert(offsetof(gonle_obs, screen_descriptions) == 112, "nle_obs.screen_descriptions");
_Static_assert(offsetof(gonle_obs, misc) == 144, "nle_obs.misc");
_Static_assert(sizeof(gonle_obs) == 152, "nle_obs size");
_Static_assert(sizeof(gonle_seeds_init) == 40, "nle_seeds_init_t size");
_Static_assert(offsetof(gonle_settings, spawn_monsters) == 45056, "nle_settings.spawn_monsters");
_Static_assert(offsetof(gonle_settings, ttyrecname) == 45060, "nle_settings.ttyrecname");
_Static_assert(offsetof(gonle_settings, initial_seeds) == 49160, "nle_settings.initial_seeds");
_Static_assert(offsetof(gonle_settings, fix_moon_phase) == 49200, "nle_settings.fix_moon_phase");
_Static_assert(offsetof(gonle_settings, time_seed) == 49208, "nle_settings.time_seed");
_Static_assert(offsetof(gonle_settings, time_seed_is_set) == 49216, "nle_settings.time_seed_is_set");

static void gonle_errf(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (!err || !n)
        return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static int gonle_copy_to_memfd(const char *libpath, int *out, char *err, size_t n)
{
    int src = open(libpath, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        gonle_errf(err, n, "open %s: %s", libpath, strerror(errno));
        return -1;
    }
    int fd = memfd_create("nle.so", MFD_CLOEXEC);
    if (fd < 0) {
        gonle_errf(err, n, "memfd_create: %s", strerror(errno));
        close(src);
        return -1;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t r = read(src, buf, sizeof buf);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            gonle_errf(err, n, "read %s: %s", libpath, strerror(errno));
            goto fail;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, buf + off, (size_t) (r - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                gonle_errf(err, n, "write memfd: %s", strerror(errno));
                goto fail;
            }
            off += w;
        }
    }
    close(src);
    *out = fd;
    return 0;
fail:
    close(src);
    close(fd);
    return -1;
}

static void *gonle_sym(gonle *g, const char *name, char *err, size_t n)
{
    void *p = dlsym(g->dl, name);
    if (!p)
        gonle_errf(err, n, "not an NLE library: symbol %s is missing", name);
    return p;
}

static int gonle_load(gonle *g, char *err, size_t n)
{
    void *resident = dlopen(g->dlpath, RTLD_LAZY | RTLD_NOLOAD);
    if (resident) {
        dlclose(resident);
        gonle_errf(err, n, "library copy %s is already loaded", g->dlpath);
        return -1;
    }
    /* DEEPBIND: the game's own error() must win over glibc's error(), or a fatal game error
     * exits the whole process. LAZY, not NOW: with RTLD_NOW the PyPI wheel's libnethack.so
     * (which links libstdc++) is never unloaded by dlclose, so a reset would reuse its dirty
     * globals; measured on nle 1.3.0, and why the resident check below exists. */
    g->dl = dlopen(g->dlpath, RTLD_LAZY | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!g->dl) {
        const char *e = dlerror();
        gonle_errf(err, n, "dlopen: %s", e ? e : "unknown error");
        return -1;
    }
    if (!(g->start = (void *(*) (gonle_obs *, FILE *, gonle_settings *)) gonle_sym(g, "nle_start", err, n)) ||
        !(g->step = (void *(*) (void *, gonle_obs *)) gonle_sym(g, "nle_step", err, n)) ||
        !(g->end = (void (*)(void *)) gonle_sym(g, "nle_end", err, n)) ||
        !(g->set_seed = (void (*)(void *, unsigned long, unsigned long, signed char, unsigned long))
              gonle_sym(g, "nle_set_seed", err, n)) ||
        !(g->get_seed = (void (*)(void *, unsigned long *, unsigned long *, signed char *,
                                  unsigned long *, bool *)) gonle_sym(g, "nle_get_seed", err, n)))
        goto fail;
    /* The level-generator RNG (and the ABI of nle_start without a seeds argument) came in
     * 1.2.0; earlier libraries would be called with the wrong arguments. */
    if (!dlsym(g->dl, "nle_init_lgen_rng")) {
        gonle_errf(err, n, "NLE library older than 1.2.0 (no nle_init_lgen_rng); Maestro needs NLE >= 1.2.0");
        goto fail;
    }
    g->has_fixed_time = dlsym(g->dl, "nle_fill_fixed_tm") != NULL;
    g->used = 0;
    return 0;
fail:
    dlclose(g->dl);
    g->dl = NULL;
    return -1;
}

static size_t gonle_align(size_t x) { return (x + 63) & ~(size_t) 63; }

static int gonle_alloc_bufs(gonle *g, unsigned keys, char *err, size_t n)
{
    struct {
        unsigned key;
        size_t size;
        void **field;
    } spec[] = {
        {GONLE_K_GLYPHS, sizeof(short) * GONLE_ROWS * GONLE_COLS, (void **) &g->obs.glyphs},
        {GONLE_K_CHARS, GONLE_ROWS * GONLE_COLS, (void **) &g->obs.chars},
        {GONLE_K_COLORS, GONLE_ROWS * GONLE_COLS, (void **) &g->obs.colors},
        {GONLE_K_SPECIALS, GONLE_ROWS * GONLE_COLS, (void **) &g->obs.specials},
        {GONLE_K_BLSTATS, sizeof(long) * GONLE_BLSTATS, (void **) &g->obs.blstats},
        {GONLE_K_MESSAGE, GONLE_MESSAGE, (void **) &g->obs.message},
        {GONLE_K_PROGRAM_STATE, sizeof(int) * GONLE_PROGRAM_STATE, (void **) &g->obs.program_state},
        {GONLE_K_INTERNAL, sizeof(int) * GONLE_INTERNAL, (void **) &g->obs.internal},
        {GONLE_K_INV_GLYPHS, sizeof(short) * GONLE_INVENTORY, (void **) &g->obs.inv_glyphs},
        {GONLE_K_INV_STRS, GONLE_INVENTORY * GONLE_INV_STR, (void **) &g->obs.inv_strs},
        {GONLE_K_INV_LETTERS, GONLE_INVENTORY, (void **) &g->obs.inv_letters},
        {GONLE_K_INV_OCLASSES, GONLE_INVENTORY, (void **) &g->obs.inv_oclasses},
        {GONLE_K_SCREEN_DESCRIPTIONS, GONLE_ROWS * GONLE_COLS * GONLE_SCREEN_DESC,
         (void **) &g->obs.screen_descriptions},
        {GONLE_K_TTY_CHARS, GONLE_TERM_LI * GONLE_TERM_CO, (void **) &g->obs.tty_chars},
        {GONLE_K_TTY_COLORS, GONLE_TERM_LI * GONLE_TERM_CO, (void **) &g->obs.tty_colors},
        {GONLE_K_TTY_CURSOR, 2, (void **) &g->obs.tty_cursor},
        {GONLE_K_MISC, sizeof(int) * GONLE_MISC, (void **) &g->obs.misc},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++)
        if (keys & spec[i].key)
            total += gonle_align(spec[i].size);
    if (total == 0)
        total = 64;
    long page = sysconf(_SC_PAGESIZE);
    total = (total + (size_t) page - 1) & ~((size_t) page - 1);
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        gonle_errf(err, n, "mmap observation buffers: %s", strerror(errno));
        return -1;
    }
    g->bufs = m;
    g->bufs_len = total;
    size_t off = 0;
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        if (keys & spec[i].key) {
            *spec[i].field = (char *) m + off;
            off += gonle_align(spec[i].size);
        } else {
            *spec[i].field = NULL; /* the library skips keys whose buffer is NULL */
        }
    }
    return 0;
}

gonle *gonle_new(const char *libpath, unsigned keys, char *err, size_t errlen)
{
    gonle *g = calloc(1, sizeof *g);
    if (!g) {
        gonle_errf(err, errlen, "out of memory");
        return NULL;
    }
    g->memfd = -1;
    if (gonle_copy_to_memfd(libpath, &g->memfd, err, errlen))
        goto fail;
    snprintf(g->dlpath, sizeof g->dlpath, "/proc/self/fd/%d", g->memfd);
    if (gonle_load(g, err, errlen))
        goto fail;
    if (gonle_alloc_bufs(g, keys, err, errlen))
        goto fail;
    g->settings.spawn_monsters = 1;
    return g;
fail:
    gonle_free(g);
    return NULL;
}

int gonle_start(gonle *g, const char *ttyrec, char *err, size_t errlen)
{
    if (g->ctx) {
        g->end(g->ctx);
        g->ctx = NULL;
    }
    if (g->dl && g->used) { /* every game starts on a fresh copy: all its globals are reset */
        dlclose(g->dl);
        g->dl = NULL;
    }
    if (g->ttyrec) { /* closed only after nle_end has finished its bz2 stream */
        fclose(g->ttyrec);
        g->ttyrec = NULL;
    }
    if (!g->dl && gonle_load(g, err, errlen))
        return -1;
    g->settings.ttyrecname[0] = '\0';
    if (ttyrec && *ttyrec) {
        g->ttyrec = fopen(ttyrec, "a");
        if (!g->ttyrec) {
            gonle_errf(err, errlen, "open ttyrec %s: %s", ttyrec, strerror(errno));
            return -1;
        }
        const char *base = strrchr(ttyrec, '/');
        snprintf(g->settings.ttyrecname, sizeof g->settings.ttyrecname, "%s", base ? base + 1 : ttyrec);
    }
    g->obs.done = 0;
    g->obs.in_normal_game = 0;
    g->obs.how_done = 0;
    g->used = 1;
    g->ctx = g->start(&g->obs, g->ttyrec, &g->settings);
    /* Seeds (and the clock seed) apply to one start only, as in NLE's Python binding. */
    g->settings.initial_seeds.use_init_seeds = false;
    g->settings.initial_seeds.use_lgen_seed = false;
    g->settings.time_seed_is_set = false;
    if (!g->ctx) {
        gonle_errf(err, errlen, "nle_start failed");
        return -1;
    }
    if (g->obs.done) {
        gonle_errf(err, errlen, "the game ended while starting (how_done %d)", g->obs.how_done);
        return -1;
    }
    return 0;
}

int gonle_step(gonle *g, int action)
{
    if (!g->ctx || g->obs.done)
        return -1;
    g->obs.action = action;
    g->ctx = g->step(g->ctx, &g->obs);
    return g->obs.done;
}

void gonle_step_batch(gonle **insts, const int *actions, int *done, int n)
{
    for (int i = 0; i < n; i++)
        done[i] = gonle_step(insts[i], actions[i]);
}

void gonle_end(gonle *g)
{
    if (g->ctx) {
        g->end(g->ctx);
        g->ctx = NULL;
    }
    if (g->dl) {
        dlclose(g->dl);
        g->dl = NULL;
    }
    if (g->ttyrec) {
        fclose(g->ttyrec);
        g->ttyrec = NULL;
    }
}

void gonle_free(gonle *g)
{
    if (!g)
        return;
    gonle_end(g);
    if (g->memfd >= 0)
        close(g->memfd);
    if (g->bufs) {
        /* Give the memory back but keep the addresses reserved and inaccessible: a stale Go
         * slice then faults at once instead of reading memory someone else owns. */
        madvise(g->bufs, g->bufs_len, MADV_DONTNEED);
        mprotect(g->bufs, g->bufs_len, PROT_NONE);
    }
    free(g);
}

int gonle_set_seed(gonle *g, unsigned long core, unsigned long disp, int reseed, unsigned long lgen)
{
    if (!g->ctx)
        return -1;
    g->set_seed(g->ctx, core, disp, (signed char) (reseed != 0), lgen);
    return 0;
}

int gonle_get_seed(gonle *g, unsigned long *core, unsigned long *disp, int *reseed,
                   unsigned long *lgen, int *lgen_in_use)
{
    signed char rs = 0;
    bool in_use = false;
    if (!g->ctx)
        return -1;
    g->get_seed(g->ctx, core, disp, &rs, lgen, &in_use);
    *reseed = rs != 0;
    *lgen_in_use = in_use;
    return 0;
}
