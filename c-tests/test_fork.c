/* Fork safety: a child forked (plain fork()) while other threads of the parent create, use,
 * pass around and close handles, or are blocked inside a call on one, gets a usable copy of
 * the handle table. In the child, every handle that is live there can be used and closed:
 * fdsafe_close returns 0 and the child's descriptor is really gone afterwards, also for a
 * handle that a parent thread was inside a call on at the moment of the fork (that thread
 * does not exist in the child, so nothing may wait for it to leave). The child never hangs,
 * can make new handles, and its closes never disturb the parent's handles. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

static int slow(void) {
    return getenv("FDSAFE_RACE_OPS") != NULL; /* set for the valgrind run */
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ---- Reporting from a child: async-signal-safe enough (no stdio locks) ---- */

static int child_failures;

static void child_fail(const char *format, ...) {
    if (child_failures++ >= 8) return; /* the first few are enough */
    char text[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(text, sizeof text - 1, format, args);
    va_end(args);
    if (n < 0) return;
    if (n > (int)sizeof text - 2) n = (int)sizeof text - 2;
    text[n++] = '\n';
    ssize_t ignored = write(2, text, (size_t)n);
    (void)ignored;
}

/* Ends a child. Under valgrind, by exec'ing a shell that exits with `code`: the leak check
 * that valgrind runs at a child's exit would report the memory of the parent's other threads
 * (their thread-local error messages), which the child copied but whose threads it does not
 * have, as definitely lost, and fail the run with --error-exitcode. */
static _Noreturn void child_exit(int code) {
    if (UNDER_VALGRIND()) {
        char command[32];
        snprintf(command, sizeof command, "exit %d", code);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    }
    _exit(code);
}

static void child_start(void) {
    signal(SIGALRM, SIG_DFL);
    alarm(slow() ? 60 : 5); /* a hang in the child kills it: the parent sees SIGALRM */
    child_failures = 0;
}

/* ---- A thread blocked in a call on a handle ---- */

struct blocked {
    fdsafe_handle handle;
    int create_own;    /* the thread makes the handle itself (it is then the handle's creator) */
    int socket;        /* a socket receive instead of an eventfd read */
    pthread_t thread;
    atomic_int tid;
    atomic_ullong published;
    atomic_int done;
    int64_t result;
};

static void *blocked_main(void *arg) {
    struct blocked *b = arg;
    if (b->create_own) must(fdsafe_eventfd_create(0, 0, &b->handle)); /* blocking */
    atomic_store(&b->published, b->handle);
    atomic_store(&b->tid, (int)syscall(SYS_gettid));
    if (b->socket) {
        char byte;
        b->result = fdsafe_socket_recv(b->handle, &byte, 1, 0);
    } else {
        uint64_t value;
        b->result = fdsafe_eventfd_read(b->handle, &value);
    }
    atomic_store(&b->done, 1);
    return NULL;
}

static void start_blocked(struct blocked *b) {
    assert_int_equal(pthread_create(&b->thread, NULL, blocked_main, b), 0);
    for (int i = 0; i < 5000 && atomic_load(&b->tid) == 0; i++) sleep_ms(1);
    for (int i = 0; i < 500 && thread_state(atomic_load(&b->tid)) != 'S'; i++) sleep_ms(10);
    sleep_ms(slow() ? 300 : 50);
    assert_false(atomic_load(&b->done));
    b->handle = (fdsafe_handle)atomic_load(&b->published);
}

/* ---- What a child does with a handle it can see ---- */

/* How the child uses a handle before closing it. */
enum use {
    /* Only look (fdsafe_wait): the child shares each open file with the parent, and a write
     * to an eventfd (or a socket's peer) would wake a parent thread blocked on it. */
    USE_LOOK,
    /* Read or write, which must work: handles whose descriptors nothing else changes. */
    USE_IO,
    /* Look, or read or write: handles that other parent threads were creating, passing and
     * closing while the fork ran, so a pipe's other end may be closed (a write gives -EPIPE,
     * never SIGPIPE) or a count taken (-EAGAIN). The kernel copies the descriptor table before
     * the memory, and other threads run meanwhile: fdsafe closes, in the child, the handles
     * inserted in that window, so every handle live in the child names its own file. */
    USE_LOOK_UNCHECKED,
    USE_IO_UNCHECKED,
};

/* Uses and closes `h` in the child. Returns 1 if it was live there. */
static int child_use_and_close(fdsafe_handle h, const char *what, enum use how) {
    int kind = fdsafe_handle_kind(h);
    if (kind < 0) {
        int closed = fdsafe_close(h);
        if (closed != -EBADF)
            child_fail("child: %s %#llx is not live (kind: %s) but fdsafe_close returned %d", what,
                       (unsigned long long)h, fdsafe_error_name(kind), closed);
        return 0;
    }
    int fd = fdsafe_fd_borrow(h);
    if (fd < 0) {
        child_fail("child: %s %#llx has kind %d but fdsafe_fd_borrow returned %s", what, (unsigned long long)h, kind,
                   fdsafe_error_name(fd));
        return 1;
    }
    /* The number names, in the child, the file the handle was made for (its kind, at least):
     * a handle another parent thread was making at the fork is closed in the child rather
     * than left naming a number the kernel's copy of the descriptor table gives another file. */
    char link[64] = "";
    char path[40];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t linked = readlink(path, link, sizeof link - 1);
    if (linked > 0) link[linked] = 0;
    int same_kind = kind == FDSAFE_KIND_EVENTFD ? strcmp(link, "anon_inode:[eventfd]") == 0
                    : kind == FDSAFE_KIND_PIPE  ? strncmp(link, "pipe:", 5) == 0
                                                : linked > 0;
    if (!same_kind)
        child_fail("child: the live %s %#llx (kind %s) names descriptor %d, which is %s", what, (unsigned long long)h,
                   fdsafe_kind_name(kind), fd, linked > 0 ? link : "not open");
    int64_t io = 0;
    char byte = 'c';
    if (how == USE_LOOK || how == USE_LOOK_UNCHECKED) {
        io = fdsafe_wait(h, FDSAFE_EVENT_OUT, 0);
        if (io > 0) io = 0;
    } else if (kind == FDSAFE_KIND_EVENTFD) { /* non-blocking ones only */
        uint64_t value = 0;
        io = fdsafe_eventfd_write(h, 1);
        if (io == 0) io = fdsafe_eventfd_read(h, &value);
        if (io == -EAGAIN) io = 0; /* a parent thread took the count meanwhile */
        if (io != 0) /* an eventfd fails in no other way: another code means another file */
            child_fail("child: the live eventfd %s %#llx gave %s", what, (unsigned long long)h, fdsafe_error_name(io));
    } else if (kind == FDSAFE_KIND_PIPE) {
        int mode = fcntl(fd, F_GETFL) & O_ACCMODE;
        io = mode == O_WRONLY ? fdsafe_write(h, &byte, 1) : fdsafe_read(h, &byte, 1);
        if (io == -EAGAIN || io == -EPIPE || io >= 0) io = 0; /* a full, empty or widowed pipe */
    } else if (kind == FDSAFE_KIND_UNIX_STREAM) {
        io = fdsafe_socket_send(h, &byte, 1, FDSAFE_MSG_DONTWAIT);
        if (io == 1) io = 0;
    }
    if (io != 0 && how != USE_IO_UNCHECKED && how != USE_LOOK_UNCHECKED)
        child_fail("child: the %s %#llx is live (fdsafe_handle_kind: %d, descriptor %d) but using it gave %s", what,
                   (unsigned long long)h, kind, fd, fdsafe_error_name((int)io));
    int closed = fdsafe_close(h);
    if (closed != 0) {
        child_fail("child: closing the live %s %#llx returned %s", what, (unsigned long long)h,
                   fdsafe_error_name(closed));
        return 1;
    }
    errno = 0;
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
        child_fail("child: fdsafe_close(%s %#llx) returned 0 but its descriptor %d is still open in the child", what,
                   (unsigned long long)h, fd);
    if (fdsafe_close(h) != -EBADF) child_fail("child: a second close of %s %#llx did not return -EBADF", what, (unsigned long long)h);
    return 1;
}

/* The child can make, use and close new handles (nothing was left locked by the fork). */
static void child_make_new_handles(void) {
    fdsafe_handle e, r, w;
    uint64_t value = 0;
    char byte = 0;
    if (fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &e) != 0) {
        child_fail("child: fdsafe_eventfd_create failed");
        return;
    }
    if (fdsafe_eventfd_write(e, 5) != 0 || fdsafe_eventfd_read(e, &value) != 0 || value != 5)
        child_fail("child: a new eventfd does not count");
    if (fdsafe_close(e) != 0) child_fail("child: closing a new eventfd failed");
    if (fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &w) != 0) {
        child_fail("child: fdsafe_pipe_create failed");
        return;
    }
    if (fdsafe_write(w, "n", 1) != 1 || fdsafe_read(r, &byte, 1) != 1 || byte != 'n')
        child_fail("child: a new pipe does not carry a byte");
    if (fdsafe_close(r) != 0 || fdsafe_close(w) != 0) child_fail("child: closing a new pipe failed");
    /* Many at once: the child rebuilt its free list from the slots (those the parent's threads
     * kept for themselves included), and no slot may be handed out twice. Each eventfd holds
     * its own count, so two handles sharing a slot would read each other's. */
    enum { MANY = 64 };
    fdsafe_handle many[MANY];
    int made = 0;
    for (; made < MANY; made++) {
        if (fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &many[made]) != 0 || fdsafe_eventfd_write(many[made], (uint64_t)made + 1) != 0) {
            child_fail("child: new eventfd %d of %d failed", made, MANY);
            break;
        }
    }
    for (int i = 0; i < made; i++) {
        value = 0;
        if (fdsafe_eventfd_read(many[i], &value) != 0 || value != (uint64_t)i + 1)
            child_fail("child: new eventfd %d read %llu, not its own count %d", i, (unsigned long long)value, i + 1);
        if (fdsafe_close(many[i]) != 0) child_fail("child: closing new eventfd %d failed", i);
    }
}

static int wait_child(pid_t child, char *why, size_t len) {
    int status = 0;
    if (waitpid(child, &status, 0) != child) {
        snprintf(why, len, "waitpid failed");
        return 0;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, len, "the child was killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM  ? " (it hung)"
                 : WTERMSIG(status) == SIGPIPE ? " (SIGPIPE: an fdsafe write raised it)"
                                               : "");
        return 0;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(why, len, "the child exited with %d (its messages are above)", WEXITSTATUS(status));
        return 0;
    }
    return 1;
}

/* ---- The case broken before: a parent thread inside a call at the moment of fork ---- */

/* One parent thread blocked in fdsafe_eventfd_read on a handle the main thread made, one on a
 * handle it made itself, one in a receive on a socket the main thread made. The forked child
 * closes all three: each close returns 0 and the child's descriptor is gone. The parent's
 * handles are untouched: each blocked call returns its data when woken. */
static void test_child_closes_handles_a_parent_thread_was_inside_at_fork(void **state) {
    (void)state;
    alarm(slow() ? 300 : 60); /* a backstop: the default action ends the run */
    struct blocked main_made = {0}, own = {.create_own = 1}, receiver = {.socket = 1};
    must(fdsafe_eventfd_create(0, 0, &main_made.handle));
    fdsafe_handle peer;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &receiver.handle, &peer));
    start_blocked(&main_made);
    start_blocked(&own);
    start_blocked(&receiver);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        child_start();
        child_use_and_close(main_made.handle, "eventfd (main's, a parent thread blocked reading it)", USE_LOOK);
        child_use_and_close(own.handle, "eventfd (made by the parent thread blocked reading it)", USE_LOOK);
        child_use_and_close(receiver.handle, "unix stream (a parent thread blocked receiving on it)", USE_IO);
        child_use_and_close(peer, "unix stream peer", USE_LOOK);
        child_make_new_handles();
        child_exit(child_failures ? 1 : 0);
    }
    char why[256] = "";
    int child_ok = wait_child(child, why, sizeof why);

    /* The parent's threads are still inside their calls on their own (intact) handles. */
    int still_blocked = !atomic_load(&main_made.done) && !atomic_load(&own.done) && !atomic_load(&receiver.done);
    must(fdsafe_eventfd_write(main_made.handle, 1));
    must(fdsafe_eventfd_write(own.handle, 1));
    int64_t sent = fdsafe_socket_send(peer, "p", 1, 0);
    pthread_join(main_made.thread, NULL);
    pthread_join(own.thread, NULL);
    pthread_join(receiver.thread, NULL);
    must(fdsafe_close(main_made.handle));
    must(fdsafe_close(own.handle));
    must(fdsafe_close(receiver.handle));
    must(fdsafe_close(peer));
    alarm(0);

    if (!child_ok) fail_msg("in the child: %s", why);
    assert_true(still_blocked);
    expect_code(main_made.result, 0);
    expect_code(own.result, 0);
    expect_code(sent, 1);
    expect_code(receiver.result, 1); /* not shut down by the child's close */
}

/* ---- The stress: threads busy with handles while the main thread forks ---- */

enum { WORKERS = 3, SLOTS_PER_WORKER = 16, PREMADE = 6 };

static _Atomic uint64_t shared_slots[WORKERS * SLOTS_PER_WORKER];
static atomic_int stop_workers;
static atomic_long worker_ops;
static fdsafe_handle premade[PREMADE];
/* Each worker's own epoll set: its adds, waits, deletes and close hooks run in fork sections,
 * on the worker's own stripe of the fork gate, while the main thread forks. */
static fdsafe_handle worker_sets[WORKERS];

/* Puts `h` in one of this worker's slots, closing what was there. */
static void publish(unsigned *seed, int worker, fdsafe_handle h) {
    int slot = worker * SLOTS_PER_WORKER + (int)(rand_r(seed) % SLOTS_PER_WORKER);
    fdsafe_handle old = atomic_exchange(&shared_slots[slot], h);
    if (old) fdsafe_close(old);
}

static void use(fdsafe_handle h) {
    uint64_t value;
    char byte = 'x';
    switch (fdsafe_handle_kind(h)) {
    case FDSAFE_KIND_EVENTFD:
        fdsafe_eventfd_write(h, 1);
        fdsafe_eventfd_read(h, &value);
        break;
    case FDSAFE_KIND_PIPE:
        if (fdsafe_write(h, &byte, 1) < 0) fdsafe_read(h, &byte, 1);
        break;
    default:
        break; /* closed meanwhile */
    }
}

/* An eventfd made ready, registered in the worker's set, waited for, then deleted and closed
 * or closed while registered (the close hook deregisters it). */
static void churn_set(unsigned *seed, int worker) {
    fdsafe_handle e;
    if (fdsafe_eventfd_create(1, FDSAFE_NONBLOCK, &e) != 0) return;
    if (fdsafe_epoll_add(worker_sets[worker], e, FDSAFE_EPOLL_IN, e) == 0) {
        fdsafe_epoll_event ev[4];
        fdsafe_epoll_wait(worker_sets[worker], ev, 4, 0);
        if (rand_r(seed) % 2) fdsafe_epoll_delete(worker_sets[worker], e);
    }
    fdsafe_close(e);
}

static void *worker_main(void *arg) {
    int worker = (int)(intptr_t)arg;
    unsigned seed = 12345u + (unsigned)worker;
    while (!atomic_load(&stop_workers)) {
        fdsafe_handle a, b;
        switch (rand_r(&seed) % 6) {
        case 0: /* a new eventfd, used, published */
            if (fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &a) == 0) {
                use(a);
                publish(&seed, worker, a);
            }
            break;
        case 1: /* a new pipe, used, both ends published */
            if (fdsafe_pipe_create(FDSAFE_NONBLOCK, &a, &b) == 0) {
                char byte = 'p';
                fdsafe_write(b, &byte, 1);
                fdsafe_read(a, &byte, 1);
                publish(&seed, worker, a);
                publish(&seed, worker, b);
            }
            break;
        case 2: { /* take one from another worker: use it, then close it or keep it */
            int slot = (int)(rand_r(&seed) % (WORKERS * SLOTS_PER_WORKER));
            fdsafe_handle h = atomic_exchange(&shared_slots[slot], 0);
            if (h) {
                use(h);
                if (rand_r(&seed) % 2) fdsafe_close(h);
                else publish(&seed, worker, h);
            }
            break;
        }
        case 3:
            churn_set(&seed, worker);
            break;
        default: { /* use one in place (another thread may be closing it: -EBADF is fine) */
            int slot = (int)(rand_r(&seed) % (WORKERS * SLOTS_PER_WORKER));
            fdsafe_handle h = atomic_load(&shared_slots[slot]);
            if (h) use(h);
            break;
        }
        }
        atomic_fetch_add(&worker_ops, 1);
    }
    return NULL;
}

static void stress_child(const struct blocked *blocked, int nblocked, enum use churned) {
    child_start();
    int live = 0;
    for (int i = 0; i < nblocked; i++)
        live += child_use_and_close(blocked[i].handle, "handle a parent thread was blocked in", USE_LOOK);
    for (int i = 0; i < PREMADE; i++) live += child_use_and_close(premade[i], "handle made before the threads", USE_IO);
    for (int i = 0; i < WORKERS * SLOTS_PER_WORKER; i++) {
        fdsafe_handle h = atomic_load(&shared_slots[i]);
        if (h) live += child_use_and_close(h, "handle from the shared slots", churned);
    }
    if (live < nblocked + PREMADE) child_fail("child: only %d handles were live", live);
    /* No lock of a worker's set was left held: the child registers, waits and closes. */
    for (int i = 0; i < WORKERS; i++) {
        fdsafe_handle e;
        fdsafe_epoll_event ev[8];
        if (fdsafe_eventfd_create(1, 0, &e) != 0 || fdsafe_epoll_add(worker_sets[i], e, FDSAFE_EPOLL_IN, 4242) != 0)
            child_fail("child: could not register in worker %d's set", i);
        int64_t n = fdsafe_epoll_wait(worker_sets[i], ev, 8, 1000);
        int seen = 0;
        for (int64_t k = 0; k < n; k++) seen |= ev[k].handle == e && ev[k].user == 4242;
        if (!seen) child_fail("child: worker %d's set did not report the child's registration (%lld)", i, (long long)n);
        if (fdsafe_close(e) != 0 || fdsafe_close(worker_sets[i]) != 0) child_fail("child: close failed");
    }
    child_make_new_handles();
    child_exit(child_failures ? 1 : 0);
}

/* Three threads create eventfds and pipes, use them, pass them to each other through shared
 * slots and close them, two more are blocked reading eventfds, while the main thread forks
 * (200 times; 20 under valgrind). Each child uses and closes every handle it can see, as
 * `churned` says for the handles in the shared slots, then makes new ones. */
static void fork_under_load(enum use churned) {
#if defined(__SANITIZE_ADDRESS__)
    /* GCC 12's AddressSanitizer does not make its allocator fork-safe: a child forked while
     * another thread held an allocator lock deadlocks in its first malloc (seen here: stuck
     * in SizeClassAllocator64::GetFromAllocator). glibc's malloc is reset in the child, so
     * the shared and static builds (and valgrind) run this test in full. */
    printf("skipped: forking under load: AddressSanitizer's allocator (GCC 12) is not fork-safe\n");
    skip();
#endif
    int forks = slow() ? 20 : 200;
    alarm(slow() ? 300 : 60); /* a backstop: the default action ends the run */
    for (int i = 0; i < WORKERS * SLOTS_PER_WORKER; i++) atomic_store(&shared_slots[i], 0);
    atomic_store(&stop_workers, 0);
    atomic_store(&worker_ops, 0);
    for (int i = 0; i < PREMADE; i += 3) { /* an eventfd and both ends of a pipe, twice */
        must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &premade[i]));
        must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &premade[i + 1], &premade[i + 2]));
    }
    for (int i = 0; i < WORKERS; i++) must(fdsafe_epoll_create(&worker_sets[i]));
    struct blocked blocked[2] = {{0}, {.create_own = 1}};
    must(fdsafe_eventfd_create(0, 0, &blocked[0].handle));
    start_blocked(&blocked[0]);
    start_blocked(&blocked[1]);

    pthread_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i), 0);
    while (atomic_load(&worker_ops) < 100) sleep_ms(1);

    int failed = 0, made = 0;
    char first[320] = "";
    for (int i = 0; i < forks && failed < 5; i++) { /* five failures are enough to see the pattern */
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) stress_child(blocked, 2, churned);
        made++;
        char why[256];
        if (!wait_child(child, why, sizeof why) && failed++ == 0) snprintf(first, sizeof first, "fork %d: %s", i, why);
    }

    atomic_store(&stop_workers, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
    int untouched = 1, kinds_ok = 1;
    for (int i = 0; i < 2; i++) must(fdsafe_eventfd_write(blocked[i].handle, 1));
    for (int i = 0; i < 2; i++) {
        pthread_join(blocked[i].thread, NULL);
        untouched &= blocked[i].result == 0; /* the parent's handle was untouched by the children */
        must(fdsafe_close(blocked[i].handle));
    }
    for (int i = 0; i < PREMADE; i++) {
        kinds_ok &= fdsafe_handle_kind(premade[i]) == (i % 3 ? FDSAFE_KIND_PIPE : FDSAFE_KIND_EVENTFD);
        must(fdsafe_close(premade[i]));
    }
    for (int i = 0; i < WORKERS * SLOTS_PER_WORKER; i++) {
        fdsafe_handle h = atomic_exchange(&shared_slots[i], 0);
        if (h) must(fdsafe_close(h));
    }
    for (int i = 0; i < WORKERS; i++) {
        assert_int_equal(fdsafe_epoll_count(worker_sets[i]), 0); /* every churned registration ended */
        must(fdsafe_close(worker_sets[i]));
    }
    alarm(0);
    printf("fork: %d forks while %d threads made %ld handle operations\n", made, WORKERS, atomic_load(&worker_ops));
    if (failed) fail_msg("%d of %d children failed; first: %s", failed, made, first);
    assert_true(untouched);
    assert_true(kinds_ok);
}

/* The table's promise in the child: live handles close with 0 and their descriptor is gone;
 * nothing hangs; new handles can be made. The handles the threads were churning are only
 * looked at (fdsafe_wait) before being closed. */
static void test_fork_while_threads_create_use_and_close_handles(void **state) {
    (void)state;
    fork_under_load(USE_LOOK_UNCHECKED);
}

/* The same with reads and writes on the churned handles, whatever they return: no fdsafe
 * write may raise SIGPIPE (README: "No fdsafe write raises SIGPIPE"), also in a child whose
 * copy of the table and of the descriptor table were taken at different moments (a pipe's
 * read end live in the table while the descriptor number belongs to another pipe). */
static void test_fork_child_reads_and_writes_handles_churned_at_fork(void **state) {
    (void)state;
    fork_under_load(USE_IO_UNCHECKED);
}


/* ---- epoll sets inherited across a fork ---- */

/* The kernel's registrations in the set `ep` whose target is descriptor `tfd`, as process
 * `pid` sees the set (its "tfd:" lines in fdinfo). */
static int kernel_registrations_of(pid_t pid, int epfd, int tfd) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, epfd);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int got;
        if (sscanf(line, "tfd: %d", &got) == 1 && got == tfd) n++;
    }
    fclose(f);
    return n;
}

/* An inherited set is the same kernel instance in both processes, and the kernel keys a
 * registration by (open file, descriptor number), both shared: a child closing its copy of a
 * registered target (by name, or with fdsafe_close_all_except) must not remove the parent's
 * registration. After the child has gone, the parent's set still reports both targets. */
static void test_child_closes_do_not_remove_the_parents_registrations(void **state) {
    (void)state;
    alarm(30);
    fdsafe_handle ep, t1, t2;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &t1));
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &t2));
    must(fdsafe_epoll_add(ep, t1, FDSAFE_EPOLL_IN, 11));
    must(fdsafe_epoll_add(ep, t2, FDSAFE_EPOLL_IN, 22));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        child_start();
        if (fdsafe_close(t1) != 0) child_fail("child: closing its copy of t1 failed");
        if (fdsafe_close_all_except(&ep, 1) < 0) child_fail("child: fdsafe_close_all_except failed");
        if (fdsafe_handle_kind(t2) >= 0) child_fail("child: t2 is still live after fdsafe_close_all_except");
        if (fdsafe_close(ep) != 0) child_fail("child: closing its copy of the set failed");
        child_exit(child_failures ? 1 : 0);
    }
    char why[256] = "";
    int child_ok = wait_child(child, why, sizeof why);
    int epfd = (int)must(fdsafe_fd_borrow(ep));
    int registered = kernel_registrations_of(getpid(), epfd, (int)must(fdsafe_fd_borrow(t1))) +
                     kernel_registrations_of(getpid(), epfd, (int)must(fdsafe_fd_borrow(t2)));
    must(fdsafe_eventfd_write(t1, 1));
    must(fdsafe_eventfd_write(t2, 1));
    fdsafe_epoll_event ev[4];
    int n = (int)fdsafe_epoll_wait(ep, ev, 4, 200);
    uint64_t users = 0;
    for (int i = 0; i < n; i++) users += ev[i].handle == t1 ? ev[i].user : ev[i].handle == t2 ? ev[i].user : 1000;
    must(fdsafe_close(t1));
    must(fdsafe_close(t2));
    must(fdsafe_close(ep));
    alarm(0);
    if (!child_ok) fail_msg("in the child: %s", why);
    assert_int_equal(registered, 2); /* the kernel still holds both */
    assert_int_equal(n, 2);
    assert_int_equal(users, 33);
}

/* Registrations a child makes on an inherited set are in the shared instance too: the
 * parent's wait collects their events, and must never report one as one of its own handles
 * (before, the child's tokens repeated the parent's counter, so the parent's next
 * registrations had the same tokens as the child's). The child adds eventfds of its own and
 * makes them readable; the parent then registers as many handles that are not ready: no wait
 * of the parent may report anything but its one ready handle, with its own user value. */
static void test_child_registrations_never_show_up_as_the_parents(void **state) {
    (void)state;
    alarm(30);
    enum { N = 4 };
    fdsafe_handle ep, mine, later[N];
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &mine));
    must(fdsafe_epoll_add(ep, mine, FDSAFE_EPOLL_IN, 100));
    int ready[2], go[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        child_start();
        close(ready[0]);
        close(go[1]);
        fdsafe_handle own[N];
        for (int i = 0; i < N; i++) {
            if (fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &own[i]) != 0 ||
                fdsafe_epoll_add(ep, own[i], FDSAFE_EPOLL_IN, 900 + (uint64_t)i) != 0 ||
                fdsafe_eventfd_write(own[i], 1) != 0)
                child_fail("child: registering its own eventfd %d failed", i);
        }
        /* The child sees its own registrations through the inherited set. */
        fdsafe_epoll_event ev[8];
        int64_t n = fdsafe_epoll_wait(ep, ev, 8, 1000);
        if (n != N) child_fail("child: its wait reported %lld events, not %d", (long long)n, N);
        char byte = 'r';
        if (write(ready[1], &byte, 1) != 1) child_fail("child: write to the parent failed");
        if (read(go[0], &byte, 1) != 1) child_fail("child: read from the parent failed");
        for (int i = 0; i < N; i++) fdsafe_close(own[i]);
        child_exit(child_failures ? 1 : 0);
    }
    close(ready[1]);
    close(go[0]);
    char byte;
    int synced = read(ready[0], &byte, 1) == 1;
    for (int i = 0; i < N; i++) {
        must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &later[i]));
        must(fdsafe_epoll_add(ep, later[i], FDSAFE_EPOLL_IN, 200 + (uint64_t)i));
    }
    fdsafe_epoll_event ev[16];
    int quiet = (int)fdsafe_epoll_wait(ep, ev, 16, 100); /* nothing of the parent's is ready */
    char wrong[256] = "";
    for (int i = 0; i < quiet && !wrong[0]; i++)
        snprintf(wrong, sizeof wrong, "handle %#llx user %llu reported though not ready", (unsigned long long)ev[i].handle,
                 (unsigned long long)ev[i].user);
    must(fdsafe_eventfd_write(mine, 1));
    int n = (int)fdsafe_epoll_wait(ep, ev, 16, 1000);
    int only_mine = n == 1 && ev[0].handle == mine && ev[0].user == 100;
    byte = 'g';
    assert_int_equal(write(go[1], &byte, 1), 1);
    char why[256] = "";
    int child_ok = wait_child(child, why, sizeof why);
    close(ready[0]);
    close(go[1]);
    for (int i = 0; i < N; i++) must(fdsafe_close(later[i]));
    must(fdsafe_close(mine));
    must(fdsafe_close(ep));
    alarm(0);
    if (!child_ok) fail_msg("in the child: %s", why);
    assert_true(synced);
    if (wrong[0]) fail_msg("the parent's wait reported a child's registration: %s", wrong);
    assert_int_equal(quiet, 0);
    assert_int_equal(n, 1);
    assert_true(only_mine);
}

/* A thread of the parent is inside a wait on one handle of a set while another closes it, so
 * the close waits for that thread; a fork then happens. The child finishes that close without
 * running anything (the table's walk), leaving the set's object unreleased: its descriptor
 * must leave the record's member list too, or a close hook in the child deregisters through
 * that number (closed, or another file by then) instead of through the set's other handle,
 * and the shared instance keeps the registration. */
struct set_waiter {
    fdsafe_handle ep;
    atomic_int tid;
    int64_t result;
};

static void *set_waiter_main(void *arg) {
    struct set_waiter *w = arg;
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    fdsafe_epoll_event ev[4];
    w->result = fdsafe_epoll_wait(w->ep, ev, 4, 10000);
    return NULL;
}

static void test_child_hooks_deregister_through_a_member_still_open(void **state) {
    (void)state;
    alarm(30);
    fdsafe_handle ep, ep2, wake, target;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_dup(ep, &ep2));
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &wake));
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &target));
    must(fdsafe_epoll_add(ep2, wake, FDSAFE_EPOLL_IN, 1));
    struct set_waiter w = {.ep = ep};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, set_waiter_main, &w), 0);
    for (int i = 0; i < 5000 && atomic_load(&w.tid) == 0; i++) sleep_ms(1);
    for (int i = 0; i < 500 && thread_state(atomic_load(&w.tid)) != 'S'; i++) sleep_ms(10);
    sleep_ms(50);
    must(fdsafe_close(ep)); /* the waiter is inside: the descriptor stays until it leaves */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        child_start();
        int epfd2 = fdsafe_fd_borrow(ep2), tfd = fdsafe_fd_borrow(target);
        if (fdsafe_epoll_add(ep2, target, FDSAFE_EPOLL_IN, 2) != 0) child_fail("child: add failed");
        if (kernel_registrations_of(getpid(), epfd2, tfd) != 1) child_fail("child: the kernel has not got the add");
        if (fdsafe_close(target) != 0) child_fail("child: closing the target failed");
        /* The parent still has the target's file open, so only a deregistration removes it. */
        if (kernel_registrations_of(getpid(), epfd2, tfd) != 0)
            child_fail("child: the instance still holds the target the child closed");
        fdsafe_close(ep2);
        child_exit(child_failures ? 1 : 0);
    }
    char why[256] = "";
    int child_ok = wait_child(child, why, sizeof why);
    must(fdsafe_eventfd_write(wake, 1));
    pthread_join(thread, NULL);
    must(fdsafe_close(target));
    must(fdsafe_close(wake));
    must(fdsafe_close(ep2));
    alarm(0);
    if (!child_ok) fail_msg("in the child: %s", why);
    expect_code(w.result, 1);
}

/* ---- The program's own fork handlers may call fdsafe ---- */

/* A program registers its pthread_atfork handlers first thing in main, before its first
 * handle (see main). fdsafe's own handlers must still run on the right side of them: the
 * program's prepare before fdsafe closes its gate, the program's child handler after fdsafe
 * opened it in the child. fdsafe used to register its handlers at the first handle, after
 * the program's: each handler's fdsafe call then waited for ever on fdsafe's gate. */
static atomic_int handlers_call_fdsafe;
static fdsafe_handle handlers_set;
static atomic_int prepare_result = 1, child_handler_result = 1;

/* An epoll registration and a close that must deregister (the file lives on in a duplicate):
 * both take fdsafe's locks. 0 when all went well. */
static int register_and_close_one(void) {
    fdsafe_handle e, copy;
    int rc = fdsafe_eventfd_create(0, 0, &e);
    if (rc != 0) return rc;
    if ((rc = fdsafe_dup(e, &copy)) != 0) return rc;
    if ((rc = fdsafe_epoll_add(handlers_set, e, FDSAFE_EPOLL_IN, 7)) != 0) return rc;
    if ((rc = fdsafe_close(e)) != 0) return rc;
    return fdsafe_close(copy);
}

static void program_prepare(void) {
    if (atomic_load(&handlers_call_fdsafe)) atomic_store(&prepare_result, register_and_close_one());
}

static fdsafe_handle parents_target; /* registered in handlers_set by the parent */

static void program_child(void) {
    if (!atomic_load(&handlers_call_fdsafe)) return;
    int rc = register_and_close_one();
    /* The child's copy of a target the parent registered: closing it here must leave the
     * parent's registration alone (fdsafe's child handler has given the child tokens of its
     * own by now). */
    if (rc == 0) rc = fdsafe_close(parents_target);
    atomic_store(&child_handler_result, rc);
}

static void test_the_programs_fork_handlers_can_call_fdsafe(void **state) {
    (void)state;
    must(fdsafe_epoll_create(&handlers_set));
    must(fdsafe_eventfd_create(1, 0, &parents_target));
    expect_code(fdsafe_epoll_add(handlers_set, parents_target, FDSAFE_EPOLL_IN, 9), 0);
    atomic_store(&handlers_call_fdsafe, 1);
    alarm(slow() ? 120 : 20); /* a prepare handler waiting for ever hangs this process */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(atomic_load(&child_handler_result) == 0 ? 0 : 1);
    atomic_store(&handlers_call_fdsafe, 0);
    expect_code(atomic_load(&prepare_result), 0);
    /* The child's handler runs inside fork(), before any code of the child's own could arm
     * an alarm: the parent gives it a few seconds, then kills it. */
    int status = 0;
    pid_t done = 0;
    for (int tenths = 0; tenths < (slow() ? 600 : 100) && (done = waitpid(child, &status, WNOHANG)) == 0; tenths++)
        usleep(100000);
    if (done == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        alarm(0);
        fail_msg("the child hung in the program's own fork handler, calling fdsafe");
    }
    alarm(0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_code(fdsafe_epoll_count(handlers_set), 1); /* both closes deregistered theirs */
    fdsafe_epoll_event ev;
    expect_code(fdsafe_epoll_wait(handlers_set, &ev, 1, 0), 1); /* the child's close left ours */
    assert_true(ev.handle == parents_target && ev.user == 9);
    must(fdsafe_close(parents_target));
    must(fdsafe_close(handlers_set));
}

int main(void) {
    /* As a program would: its fork handlers, registered before its first handle. */
    pthread_atfork(program_prepare, NULL, program_child);
    const struct CMUnitTest tests[] = {
        FD_TEST(test_the_programs_fork_handlers_can_call_fdsafe),
        FD_TEST(test_child_closes_handles_a_parent_thread_was_inside_at_fork),
        FD_TEST(test_fork_while_threads_create_use_and_close_handles),
        FD_TEST(test_fork_child_reads_and_writes_handles_churned_at_fork),
        FD_TEST(test_child_closes_do_not_remove_the_parents_registrations),
        FD_TEST(test_child_registrations_never_show_up_as_the_parents),
        FD_TEST(test_child_hooks_deregister_through_a_member_still_open),
    };
    return cmocka_run_group_tests_name("fork", tests, NULL, NULL);
}
