/*
 * The entry of every frozen plugin: <bundle>/<plugin>, what /opt/cni/bin/<plugin> points at.
 *
 * The bundles carry the glibc (and its dynamic loader) that their Python and libraries
 * were built against, so they run on any x86_64 Linux whatever the host's glibc
 * (docs/install.md, "glibc floor"). A dynamic executable's loader is an absolute path
 * (PT_INTERP) that cannot point inside a bundle that may live anywhere, so this
 * launcher, linked statically and therefore needing no libc from the host, runs
 *
 *     <bundle>/_internal/ld-linux-x86-64.so.2 --library-path <bundle>/_internal \
 *         <bundle>/<plugin>.bin ARGS...
 *
 * where <plugin>.bin is PyInstaller's bootloader. Started through ld.so, the bootloader
 * finds itself from argv[0] (its /proc/self/exe is the loader). On Linux a onedir
 * bootloader would then set LD_LIBRARY_PATH=<bundle>/_internal and exec itself once
 * more so that the setting takes effect: one more exec of the loader and bootloader
 * per plugin exec, for nothing, since --library-path already makes every library
 * (and every later dlopen) resolve in _internal/. So the launcher tells it that this
 * is the restarted process (_PYI_PARENT_PROCESS_LEVEL=-1, believed only together with
 * _PYI_ARCHIVE_FILE naming the bootloader's own path; anything else and it restarts
 * as before) and gives it the plugin's name for the process name that it restores
 * after a restart (else `ps` shows "ld-linux-x86-64"). The host's LD_LIBRARY_PATH is
 * left as it was, for the plugin's child processes; tools/bundle/pyi_rth_child_env.py
 * undoes the bootloader's setting should it restart after all.
 *
 * <bundle> is found from /proc/self/exe, which the kernel resolves through every
 * symlink (/opt/cni/bin/x -> .spidernet/current/x/x -> the version directory), so one
 * exec sees one version from start to end even while the installer swaps versions.
 * Without /proc (a bare chroot), argv[0] is resolved instead.
 *
 * If the loader cannot be started, stdout gets a CNI error object (code 5, I/O
 * failure) so the runtime reports a reason rather than an empty reply.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOADER "ld-linux-x86-64.so.2"

static void json_escaped(const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s >= 0x20) putchar(*s);
    }
}

static int fail(const char *what, const char *path, int err) {
    fprintf(stderr, "spidernet launcher: %s %s: %s\n", what, path, strerror(err));
    fputs("{\"code\": 5, \"msg\": \"spidernet launcher: ", stdout);
    json_escaped(what);
    putchar(' ');
    json_escaped(path);
    fputs(": ", stdout);
    json_escaped(strerror(err));
    fputs("\"}\n", stdout);
    return 1;
}

/* The real path of this executable, symlinks resolved. */
static int self_path(const char *argv0, char *out) {
    ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    if (n > 0) {
        out[n] = '\0';
        return 0;
    }
    return realpath(argv0, out) ? 0 : -1;
}

int main(int argc, char **argv) {
    char self[PATH_MAX], loader[PATH_MAX], libdir[PATH_MAX], program[PATH_MAX];
    if (argc < 1 || self_path(argv[0], self) != 0) return fail("cannot resolve", argc ? argv[0] : "?", errno);
    char *slash = strrchr(self, '/');
    if (!slash) return fail("not an absolute path:", self, EINVAL);
    *slash = '\0';
    const char *name = slash + 1;
    if (snprintf(libdir, sizeof libdir, "%s/_internal", self) >= (int)sizeof libdir ||
        snprintf(loader, sizeof loader, "%s/" LOADER, libdir) >= (int)sizeof loader ||
        snprintf(program, sizeof program, "%s/%s.bin", self, name) >= (int)sizeof program)
        return fail("path too long:", self, ENAMETOOLONG);

    if (setenv("_PYI_ARCHIVE_FILE", program, 1) != 0 || setenv("_PYI_PARENT_PROCESS_LEVEL", "-1", 1) != 0 ||
        setenv("_PYI_LINUX_PROCESS_NAME", name, 1) != 0)
        return fail("cannot set the environment for", name, errno);

    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!args) return fail("out of memory for", name, ENOMEM);
    args[0] = loader;
    args[1] = "--library-path";
    args[2] = libdir;
    args[3] = program;
    for (int i = 1; i < argc; i++) args[3 + i] = argv[i];
    execv(loader, args);
    return fail("cannot exec", loader, errno);
}
