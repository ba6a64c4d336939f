/* Controlling terminals: programs started on a pseudo-terminal (forkpty, login_tty) run a
 * real shell and stty, whose output is read through the master; Ctrl-C typed as VINTR reaches
 * the child as SIGINT; spawning from many threads at once; failures; misuse. Cases ported in
 * spirit from CPython's test_pty. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Everything the master gives until `want` appears, end of file (-EIO once the child's side
 * is closed) or 10 s pass, in `buf` (8192 bytes). */
#define BUF_SIZE 8192
static const char *read_into(char *buf, fdsafe_handle master, const char *want) {
    size_t got = 0;
    buf[0] = '\0';
    while (got < BUF_SIZE - 1 && (want == NULL || !strstr(buf, want))) {
        if (fdsafe_wait(master, FDSAFE_EVENT_IN, 10000) <= 0)
            break;
        int64_t n = fdsafe_read(master, buf + got, BUF_SIZE - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return buf;
}

static const char *read_until(fdsafe_handle master, const char *want) {
    static char buf[BUF_SIZE];
    return read_into(buf, master, want);
}

static fdsafe_pidfd_exit reap(fdsafe_handle pidfd) {
    fdsafe_pidfd_exit e = {0, 0, 0};
    expect_code(fdsafe_wait(pidfd, FDSAFE_EVENT_IN, 10000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_pidfd_wait(pidfd, 0, &e), 1);
    return e;
}

static void test_stty_reports_the_terminal_it_was_given(void **state) {
    (void)state;
    const char *argv[] = {"stty", "-a", NULL};
    fdsafe_window_size size = {24, 100, 0, 0};
    fdsafe_handle master, pidfd;
    int pid = fdsafe_pty_spawn("stty", argv, NULL, NULL, &size, 0, &master, &pidfd);
    assert_true(pid > 0);
    expect_code(fdsafe_handle_kind(master), FDSAFE_KIND_TERMINAL);
    expect_code(fdsafe_handle_kind(pidfd), FDSAFE_KIND_PIDFD);
    expect_code(fdsafe_pidfd_get_pid(pidfd), pid);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(master))), 1);
    const char *out = read_until(master, NULL); /* to end of file: the slave is closed here */
    assert_non_null(strstr(out, "rows 24; columns 100;"));
    assert_non_null(strstr(out, "speed 38400 baud"));
    fdsafe_pidfd_exit e = reap(pidfd);
    assert_int_equal(e.code, FDSAFE_PIDFD_EXITED);
    assert_int_equal(e.status, 0);
    assert_int_equal(e.pid, pid);
    must(fdsafe_close(pidfd));
    must(fdsafe_close(master));
}

static void test_environment_inherited_or_given(void **state) {
    (void)state;
    const char *argv[] = {"sh", "-c", "echo \"[$FDSAFE_SPAWN_VALUE]\"", NULL};
    const char *envp[] = {"FDSAFE_SPAWN_VALUE=given", NULL};
    fdsafe_handle master, pidfd;
    assert_int_equal(setenv("FDSAFE_SPAWN_VALUE", "inherited", 1), 0);
    assert_true(fdsafe_pty_spawn("sh", argv, NULL, NULL, NULL, 0, &master, &pidfd) > 0);
    assert_non_null(strstr(read_until(master, NULL), "[inherited]"));
    assert_int_equal(reap(pidfd).status, 0);
    must(fdsafe_close(pidfd));
    must(fdsafe_close(master));
    /* envp replaces the environment; PATH is still searched as this process has it. */
    assert_true(fdsafe_pty_spawn("sh", argv, envp, NULL, NULL, 0, &master, &pidfd) > 0);
    assert_non_null(strstr(read_until(master, NULL), "[given]"));
    assert_int_equal(reap(pidfd).status, 0);
    must(fdsafe_close(pidfd));
    must(fdsafe_close(master));
    unsetenv("FDSAFE_SPAWN_VALUE");
}

static void test_settings_given_to_the_child(void **state) {
    (void)state;
    /* Settings from another pty, raw: the child sees -icanon -echo. */
    fdsafe_handle m0, s0, master, pidfd;
    must(fdsafe_pty_open(0, &m0, &s0));
    fdsafe_terminal_settings t;
    fdsafe_terminal_view v;
    must(fdsafe_terminal_get(s0, &t));
    must(fdsafe_terminal_view_get(&t, &v));
    v.mode = FDSAFE_TERM_RAW;
    must(fdsafe_terminal_view_set(&t, &v));
    must(fdsafe_close(s0));
    must(fdsafe_close(m0));
    const char *argv[] = {"stty", NULL};
    expect_code(fdsafe_pty_spawn("/bin/stty", argv, NULL, &t, NULL, FDSAFE_NONBLOCK, &master, &pidfd) > 0, 1);
    expect_code(fdsafe_nonblocking_get(master), 1);
    const char *out = read_until(master, NULL);
    assert_non_null(strstr(out, "-icanon"));
    assert_non_null(strstr(out, "-echo"));
    fdsafe_pidfd_exit e = reap(pidfd);
    assert_int_equal(e.code, FDSAFE_PIDFD_EXITED);
    assert_int_equal(e.status, 0);
    must(fdsafe_close(pidfd));
    must(fdsafe_close(master));
}

static void test_interactive_shell_prompt_and_exit_status(void **state) {
    (void)state;
    const char *argv[] = {"sh", "-i", NULL};
    const char *envp[] = {"PS1=fdsafe$ ", "PATH=/usr/bin:/bin", NULL};
    fdsafe_handle master, pidfd;
    assert_true(fdsafe_pty_spawn("sh", argv, envp, NULL, NULL, 0, &master, &pidfd) > 0);
    assert_non_null(strstr(read_until(master, "fdsafe$ "), "fdsafe$ "));
    /* The shell's streams are its controlling terminal: /dev/tty opens. */
    const char *cmd = "exec 3</dev/tty && echo has-a-tty $((6 * 7))\n";
    expect_code(fdsafe_write(master, cmd, (int64_t)strlen(cmd)), (int64_t)strlen(cmd));
    assert_non_null(strstr(read_until(master, "has-a-tty 42"), "has-a-tty 42"));
    expect_code(fdsafe_write(master, "exit 3\n", 7), 7);
    fdsafe_pidfd_exit e = reap(pidfd);
    assert_int_equal(e.code, FDSAFE_PIDFD_EXITED);
    assert_int_equal(e.status, 3);
    must(fdsafe_close(pidfd));
    must(fdsafe_close(master));
}

/* Ctrl-C is whatever VINTR says: the child's foreground process group gets SIGINT. */
static void interrupt_with(unsigned char intr) {
    fdsafe_handle m0, s0, master, pidfd;
    must(fdsafe_pty_open(0, &m0, &s0));
    fdsafe_terminal_settings t;
    must(fdsafe_terminal_get(s0, &t));
    must(fdsafe_close(s0));
    must(fdsafe_close(m0));
    t.cc[VINTR] = intr;
    const char *argv[] = {"sh", "-c", "echo ready; exec sleep 30", NULL};
    assert_true(fdsafe_pty_spawn("sh", argv, NULL, &t, NULL, 0, &master, &pidfd) > 0);
    assert_non_null(strstr(read_until(master, "ready"), "ready"));
    /* The original ^C is an ordinary byte when VINTR is another character. */
    if (intr != 0x03)
        expect_code(fdsafe_write(master, "\x03", 1), 1);
    expect_code(fdsafe_wait(pidfd, FDSAFE_EVENT_IN, 200), 0);
    expect_code(fdsafe_write(master, &intr, 1), 1);
    fdsafe_pidfd_exit e = reap(pidfd);
    assert_int_equal(e.code, FDSAFE_PIDFD_KILLED);
    assert_int_equal(e.status, SIGINT);
    must(fdsafe_close(pidfd));
    must(fdsafe_close(master));
}

static void test_vintr_sends_sigint_to_the_child(void **state) {
    (void)state;
    /* Even when this process ignores SIGINT (as background jobs of a script do), the child
     * starts with every signal at its default action. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
    assert_int_equal(sigaction(SIGINT, &ignore, &old), 0);
    interrupt_with(0x03); /* ^C, the default */
    interrupt_with(0x18); /* ^X */
    assert_int_equal(sigaction(SIGINT, &old, NULL), 0);
}

static void test_spawn_on_a_terminal_and_failures(void **state) {
    (void)state;
    fdsafe_handle m, s, first, second;
    must(fdsafe_pty_open(0, &m, &s));
    const char *argv[] = {"sh", "-c", "read line; echo got-$line", NULL};
    assert_true(fdsafe_terminal_spawn(s, "sh", argv, NULL, &first) > 0);
    /* The terminal is now that session's: another session cannot take it. */
    expect_code(fdsafe_terminal_spawn(s, "sh", argv, NULL, &second), -EPERM);
    expect_code(fdsafe_write(m, "x\n", 2), 2);
    assert_non_null(strstr(read_until(m, "got-x"), "got-x"));
    fdsafe_pidfd_exit e = reap(first);
    assert_int_equal(e.status, 0);
    must(fdsafe_close(first));
    must(fdsafe_close(s));
    must(fdsafe_close(m));
    /* A program that does not exist: the child's execve error, the child reaped. */
    const char *missing[] = {"fdsafe-no-such-program", NULL};
    fdsafe_handle master = 0, pidfd = 0;
    expect_code(fdsafe_pty_spawn("fdsafe-no-such-program", missing, NULL, NULL, NULL, 0, &master, &pidfd), -ENOENT);
    expect_code(fdsafe_pty_spawn("/nonexistent/prog", missing, NULL, NULL, NULL, 0, &master, &pidfd), -ENOENT);
    expect_code(fdsafe_pty_spawn("/etc/passwd", missing, NULL, NULL, NULL, 0, &master, &pidfd), -EACCES);
    assert_true(master == 0 && pidfd == 0);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left behind */
    assert_int_equal(errno, ECHILD);
}

/* With 0, 1 and 2 closed, pipe2 hands the error-report pipe those numbers; had it kept them,
 * the child's dup2 of the terminal onto 0, 1 and 2 would replace the write end: its execve
 * error lost, the spawn taken for a success, the child never reaped. Run in a child process
 * (its standard streams can be closed), which reports by exit status: 0 when the spawn
 * returned -ENOENT and left no child behind. */
static void test_failure_reported_with_standard_streams_closed(void **state) {
    (void)state;
    fdsafe_handle m, s;
    must(fdsafe_pty_open(0, &m, &s)); /* numbered 3 or above: the pipe gets 0 and 1 */
    pid_t tester = fork();
    assert_true(tester >= 0);
    if (tester == 0) {
        close(0);
        close(1);
        close(2);
        const char *missing[] = {"fdsafe-no-such-program", NULL};
        fdsafe_handle pidfd = 0;
        int rc = fdsafe_terminal_spawn(s, "fdsafe-no-such-program", missing, NULL, &pidfd);
        if (rc != -ENOENT)
            _exit(rc > 0 ? 1 : 2); /* 1: the failure taken for a success */
        if (pidfd != 0)
            _exit(3);
        if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
            _exit(4); /* a child left behind */
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(tester, &status, 0), tester);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void *spawn_many(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) {
        const char *argv[] = {"sh", "-c", "echo done", NULL};
        fdsafe_handle master, pidfd;
        int pid = fdsafe_pty_spawn("sh", argv, NULL, NULL, NULL, 0, &master, &pidfd);
        if (pid <= 0) {
            fprintf(stderr, "spawn: %s\n", fdsafe_error_name(pid));
            return (void *)1;
        }
        char buf[BUF_SIZE];
        int ok = strstr(read_into(buf, master, NULL), "done") != NULL;
        fdsafe_pidfd_exit e = {0, 0, 0};
        if (fdsafe_pidfd_wait(pidfd, 0, &e) != 1 || e.code != FDSAFE_PIDFD_EXITED || e.status != 0)
            ok = 0;
        fdsafe_close(pidfd);
        fdsafe_close(master);
        if (!ok) {
            fprintf(stderr, "child: %d %d %d\n", e.pid, e.code, e.status);
            return (void *)2;
        }
    }
    return NULL;
}

static void *churn_malloc(void *arg) {
    volatile int *stop = arg;
    while (!*stop)
        free(malloc(1000 + (size_t)(rand() % 100000)));
    return NULL;
}

static void test_spawn_from_many_threads(void **state) {
    (void)state;
    pthread_t spawners[4], churner;
    volatile int stop = 0;
    assert_int_equal(pthread_create(&churner, NULL, churn_malloc, (void *)&stop), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&spawners[i], NULL, spawn_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        assert_int_equal(pthread_join(spawners[i], &rc), 0);
        assert_null(rc);
    }
    stop = 1;
    assert_int_equal(pthread_join(churner, NULL), 0);
}

static void test_spawn_bad_input(void **state) {
    (void)state;
    const char *argv[] = {"true", NULL}, *empty[] = {NULL};
    fdsafe_handle master = 0x5, pidfd = 0x6, m, s, r, w;
    expect_code(fdsafe_pty_spawn(NULL, argv, NULL, NULL, NULL, 0, &master, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("", argv, NULL, NULL, NULL, 0, &master, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("true", NULL, NULL, NULL, NULL, 0, &master, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("true", empty, NULL, NULL, NULL, 0, &master, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("true", argv, NULL, NULL, NULL, 0, NULL, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("true", argv, NULL, NULL, NULL, 0, &master, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("true", argv, NULL, NULL, NULL, FDSAFE_O_WRONLY, &master, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_spawn("true", argv, NULL, NULL, NULL, UINT32_MAX, &master, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(master == 0x5 && pidfd == 0x6);
    must(fdsafe_pty_open(0, &m, &s));
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_terminal_spawn(s, NULL, argv, NULL, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_spawn(s, "true", NULL, NULL, &pidfd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_spawn(s, "true", argv, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_spawn(r, "true", argv, NULL, &pidfd), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(s));
    expect_code(fdsafe_terminal_spawn(s, "true", argv, NULL, &pidfd), -EBADF);
    assert_int_equal(pidfd, 0x6);
    must(fdsafe_close(m));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_stty_reports_the_terminal_it_was_given),
        FD_TEST(test_environment_inherited_or_given),
        FD_TEST(test_settings_given_to_the_child),
        FD_TEST(test_interactive_shell_prompt_and_exit_status),
        FD_TEST(test_vintr_sends_sigint_to_the_child),
        FD_TEST(test_spawn_on_a_terminal_and_failures),
        FD_TEST(test_failure_reported_with_standard_streams_closed),
        FD_TEST(test_spawn_from_many_threads),
        FD_TEST(test_spawn_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
