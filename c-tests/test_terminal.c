/* Terminals over a pseudo-terminal pair: open, peer, paths, window size (checked from
 * outside with `stty -F`), modem lines (ENOTTY on ptys), drain, flush, break, exclusive
 * mode, is-a-terminal, adopt, and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/termbits.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static char stty_out[4096];

/* Runs `stty -F path args` and keeps its output in stty_out. */
/* Field by field, so a difference names the word. */
static void assert_settings_equal(const fdsafe_terminal_settings *a, const fdsafe_terminal_settings *b) {
    assert_int_equal(a->iflag, b->iflag);
    assert_int_equal(a->oflag, b->oflag);
    assert_int_equal(a->cflag, b->cflag);
    assert_int_equal(a->lflag, b->lflag);
    assert_int_equal(a->line, b->line);
    assert_memory_equal(a->cc, b->cc, FDSAFE_TERM_NCCS);
    assert_int_equal(a->ispeed, b->ispeed);
    assert_int_equal(a->ospeed, b->ospeed);
}

static void stty(const char *path, const char *args) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "stty -F %s %s 2>&1", path, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(stty_out, 1, sizeof stty_out - 1, p);
    stty_out[n] = '\0';
    assert_int_equal(pclose(p), 0);
}

static void test_pty_pair_paths_and_data(void **state) {
    (void)state;
    fdsafe_handle m, s, s2, r, w;
    char sp[64], mp[64], pp[64];
    open_pty(&m, &s, sp, sizeof sp);
    expect_code(fdsafe_handle_kind(m), FDSAFE_KIND_TERMINAL);
    expect_code(fdsafe_handle_kind(s), FDSAFE_KIND_TERMINAL);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(m))), 1);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(s))), 1);
    assert_int_equal(strncmp(sp, "/dev/pts/", 9), 0);
    expect_code(fdsafe_terminal_path(m, FDSAFE_TERMINAL_PATH_PEER, pp, sizeof pp), (int)strlen(sp) + 1);
    assert_string_equal(pp, sp);
    must(fdsafe_terminal_path(m, 0, mp, sizeof mp));
    assert_non_null(strstr(mp, "ptmx"));
    expect_code(fdsafe_is_terminal(m), 1);
    expect_code(fdsafe_is_terminal(s), 1);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_is_terminal(r), 0);
    /* Canonical mode: a line arrives once complete. */
    expect_code(fdsafe_write(m, "hello\n", 6), 6);
    char buf[32] = {0};
    expect_code(fdsafe_read(s, buf, sizeof buf), 6);
    assert_string_equal(buf, "hello\n");
    /* The peer of the master is the same terminal. */
    must(fdsafe_pty_peer(m, 0, &s2));
    must(fdsafe_terminal_path(s2, 0, pp, sizeof pp));
    assert_string_equal(pp, sp);
    expect_code(fdsafe_write(s2, "back", 4), 4);
    /* The master reads the echo of "hello" and then "back" (possibly in separate reads). */
    memset(buf, 0, sizeof buf);
    size_t got = 0;
    while (got < sizeof buf - 1 && !strstr(buf, "back")) {
        expect_code(fdsafe_wait(m, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
        got += (size_t)must(fdsafe_read(m, buf + got, sizeof buf - 1 - got));
    }
    assert_non_null(strstr(buf, "hello"));
    assert_non_null(strstr(buf, "back"));
    expect_code(fdsafe_pty_peer(s, 0, &s2), -EIO);
    {
        fdsafe_handle nm, ns;
        must(fdsafe_pty_open(FDSAFE_NONBLOCK, &nm, &ns));
        expect_code(fdsafe_nonblocking_get(nm), 1);
        expect_code(fdsafe_nonblocking_get(ns), 1);
        expect_code(fdsafe_read(ns, buf, sizeof buf), -EAGAIN);
        must(fdsafe_close(ns));
        must(fdsafe_close(nm));
    } /* a slave is not a master: the kernel says EIO */
    must(fdsafe_close(s2));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void test_window_size_modem_drain_flush_break_exclusive(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    struct fdsafe_window_size ws = {40, 120, 0, 0}, got = {0, 0, 0, 0};
    expect_code(fdsafe_terminal_set_window_size(m, &ws), 0);
    must(fdsafe_terminal_get_window_size(s, &got));
    assert_int_equal(got.rows, 40);
    assert_int_equal(got.cols, 120);
    stty(sp, "size");
    assert_string_equal(stty_out, "40 120\n");

    uint32_t lines = 0xdead;
    expect_code(fdsafe_terminal_modem_get(s, &lines), -ENOTTY); /* ptys have no modem lines */
    assert_int_equal(lines, 0xdead);
    expect_code(fdsafe_terminal_modem_set(s, FDSAFE_MODEM_DTR | FDSAFE_MODEM_RTS, 0), -ENOTTY);
    expect_code(fdsafe_terminal_modem_set(s, 0, FDSAFE_MODEM_DTR), -ENOTTY);

    expect_code(fdsafe_terminal_drain(s), 0);
    /* Unread input, discarded by a flush. */
    expect_code(fdsafe_write(m, "junk\n", 5), 5);
    expect_code(fdsafe_wait(s, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_terminal_flush(s, FDSAFE_FLUSH_INPUT), 0);
    expect_code(fdsafe_wait(s, FDSAFE_EVENT_IN, 0), 0);
    expect_code(fdsafe_terminal_flush(s, FDSAFE_FLUSH_OUTPUT), 0);
    expect_code(fdsafe_terminal_flush(s, FDSAFE_FLUSH_BOTH), 0);
    expect_code(fdsafe_terminal_send_break(s, 0), 0);
    expect_code(fdsafe_terminal_send_break(s, 100), 0);

    expect_code(fdsafe_terminal_get_exclusive(s), 0);
    expect_code(fdsafe_terminal_set_exclusive(s, true), 0);
    expect_code(fdsafe_terminal_get_exclusive(s), 1);
    int excl = 0;
    assert_int_equal(ioctl((int)must(fdsafe_fd_borrow(s)), TIOCGEXCL, &excl), 0); /* the kernel agrees */
    assert_int_equal(excl, 1);
    expect_code(fdsafe_terminal_set_exclusive(s, false), 0);
    expect_code(fdsafe_terminal_get_exclusive(s), 0);
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void test_open_by_path_without_controlling_terminal(void **state) {
    (void)state;
    fdsafe_handle m, s, t;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    must(fdsafe_terminal_open(sp, FDSAFE_O_RDWR, &t));
    expect_code(fdsafe_handle_kind(t), FDSAFE_KIND_TERMINAL);
    expect_code(fdsafe_is_terminal(t), 1);
    /* Still no controlling terminal. */
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    assert_int_equal(fd, -1);
    expect_code(fdsafe_write(m, "x\n", 2), 2);
    char buf[4];
    expect_code(fdsafe_read(t, buf, sizeof buf), 2);
    /* A session leader without a controlling terminal would acquire one by opening a tty
     * without O_NOCTTY; through fdsafe it must not. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fdsafe_handle c;
        if (setsid() < 0)
            _exit(2);
        if (fdsafe_terminal_open(sp, FDSAFE_O_RDWR, &c) != 0)
            _exit(3);
        int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
        _exit(tty < 0 && errno == ENXIO ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    uint32_t maj, min;
    must(fdsafe_chardev_numbers(t, &maj, &min)); /* terminals report device numbers too */
    assert_true(maj >= 136);
    must(fdsafe_close(t));
    fdsafe_handle h = 0x5;
    expect_code(fdsafe_terminal_open("/dev/null", FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_open("/etc/passwd", FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_open("/dev/pts/999999", FDSAFE_O_RDONLY, &h), -ENOENT);
    expect_code(fdsafe_terminal_open(NULL, FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_open(sp, FDSAFE_O_RDONLY, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_open(sp, 3, &h), FDSAFE_E_INVALID_ARGUMENT); /* access mode 3 */
    expect_code(fdsafe_terminal_open(sp, 0x40, &h), FDSAFE_E_INVALID_ARGUMENT);
    /* /dev/ptmx makes a new master, locked: fdsafe_pty_open is the way to a usable pair. */
    expect_code(fdsafe_terminal_open("/dev/ptmx", FDSAFE_O_RDWR, &h), FDSAFE_E_INVALID_ARGUMENT);
    char why[256];
    fdsafe_last_error(why, sizeof why);
    assert_non_null(strstr(why, "fdsafe_pty_open"));
    /* A terminal is no plain character device: fdsafe_chardev_open sends it here. */
    expect_code(fdsafe_chardev_open(sp, FDSAFE_O_RDWR, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_chardev_open("/dev/ptmx", FDSAFE_O_RDWR, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(h, 0x5);
    /* Adopt a caller's pty master; /dev/null is not a terminal. */
    fd = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(fd >= 0);
    must(fdsafe_fd_adopt(fd, FDSAFE_KIND_TERMINAL, &h));
    assert_int_equal(fd_is_cloexec(fd), 1);
    must(fdsafe_close(h));
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    expect_code(fdsafe_fd_adopt(fd, FDSAFE_KIND_TERMINAL, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(fd);
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void test_terminal_bad_input(void **state) {
    (void)state;
    fdsafe_handle m, s, r, w, x = 0x7;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    must(fdsafe_pipe_create(0, &r, &w));
    struct fdsafe_terminal_settings t, before;
    must(fdsafe_terminal_get(s, &before));
    struct fdsafe_window_size ws = {1, 1, 0, 0};
    uint32_t lines;
    char small[4];

    expect_code(fdsafe_pty_open(0, NULL, &x), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_open(0, &x, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_open(FDSAFE_O_WRONLY, &x, &x), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_peer(m, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pty_peer(m, 8, &x), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(x, 0x7);
    expect_code(fdsafe_terminal_path(s, 0, small, sizeof small), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_terminal_path(s, 0, NULL, 10), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_path(s, 2, sp, sizeof sp), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_path(s, FDSAFE_TERMINAL_PATH_PEER, sp, sizeof sp), -ENOTTY);

    expect_code(fdsafe_terminal_get(s, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_set(s, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    t = before;
    expect_code(fdsafe_terminal_set(s, &t, 3), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_terminal_get(s, &t));
    assert_settings_equal(&t, &before); /* nothing changed */
    expect_code(fdsafe_terminal_get_window_size(s, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_set_window_size(s, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_modem_get(s, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_modem_set(s, FDSAFE_MODEM_CTS, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_modem_set(s, FDSAFE_MODEM_DTR, FDSAFE_MODEM_DTR), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_flush(s, 3), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_flow(s, 4), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_flow(s, UINT32_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_queue_size(s, FDSAFE_FLUSH_BOTH), FDSAFE_E_INVALID_ARGUMENT);

    /* Wrong kind: a pipe. */
    expect_code(fdsafe_pty_peer(r, 0, &x), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_path(r, 0, sp, sizeof sp), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_get(r, &t), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_set(r, &before, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_get_window_size(r, &ws), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_set_window_size(r, &ws), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_modem_get(r, &lines), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_modem_set(r, 0, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_drain(r), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_flush(r, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_flow(r, FDSAFE_TERM_OUTPUT_ON), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_queue_size(r, FDSAFE_FLUSH_INPUT), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_send_break(r, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_set_exclusive(r, true), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_get_exclusive(r), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(s));
    /* Closed handle. */
    expect_code(fdsafe_terminal_get(s, &t), -EBADF);
    expect_code(fdsafe_terminal_set(s, &before, 0), -EBADF);
    expect_code(fdsafe_terminal_get_window_size(s, &ws), -EBADF);
    expect_code(fdsafe_terminal_set_window_size(s, &ws), -EBADF);
    expect_code(fdsafe_terminal_modem_get(s, &lines), -EBADF);
    expect_code(fdsafe_terminal_modem_set(s, 0, 0), -EBADF);
    expect_code(fdsafe_terminal_drain(s), -EBADF);
    expect_code(fdsafe_terminal_flush(s, 0), -EBADF);
    expect_code(fdsafe_terminal_flow(s, FDSAFE_TERM_OUTPUT_ON), -EBADF);
    expect_code(fdsafe_terminal_queue_size(s, FDSAFE_FLUSH_INPUT), -EBADF);
    expect_code(fdsafe_terminal_send_break(s, 0), -EBADF);
    expect_code(fdsafe_terminal_set_exclusive(s, false), -EBADF);
    expect_code(fdsafe_terminal_get_exclusive(s), -EBADF);
    expect_code(fdsafe_terminal_path(s, 0, sp, sizeof sp), -EBADF);
    expect_code(fdsafe_is_terminal(s), -EBADF);
    expect_code(fdsafe_is_terminal(0), -EBADF);
    expect_code(fdsafe_pty_peer(0, 0, &x), -EBADF);
    must(fdsafe_close(m));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_pty_pair_paths_and_data),
        FD_TEST(test_window_size_modem_drain_flush_break_exclusive),
        FD_TEST(test_open_by_path_without_controlling_terminal),
        FD_TEST(test_terminal_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
