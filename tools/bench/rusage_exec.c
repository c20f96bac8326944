/* rusage-exec: run a command and report its kernel accounting; tools/bench/execs.py uses it.
 *
 *   rusage-exec COMMAND [ARG...]
 *
 * Runs COMMAND as a child (stdin, stdout and stderr inherited), waits for it with
 * wait4 and prints one last line to stderr: "@rusage <user s> <system s> <maxrss KiB>".
 * Exits with the child's status (128 + signal when it was killed).
 *
 * Why not wait4 from the benchmark itself: the kernel keeps a process's peak RSS
 * across exec, so a child forked from the ~30 MB Python harness reports at least the
 * harness's size, whatever it execs. Forked from this small program, the command's
 * ru_maxrss is its own (or its largest descendant's).
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rusage-exec COMMAND [ARG...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("rusage-exec: fork");
    return 127;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    perror("rusage-exec: exec");
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("rusage-exec: wait4");
    return 127;
  }
  fprintf(stderr, "\n@rusage %ld.%06ld %ld.%06ld %ld\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
          (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
