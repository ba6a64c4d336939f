/* Terminal settings over a pseudo-terminal: get-then-set changes nothing, every flag bit the
 * kernel accepts survives the round trip, control characters, the friendly view (raw and
 * cbreak as cfmakeraw and Python's tty.setcbreak, speeds through BOTHER), checked with
 * `stty -F` and by the terminal's behaviour; tcflow and the queue sizes; misuse.
 * Cases ported in spirit from CPython's test_termios and test_tty. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <asm/termbits.h>
#include <sys/ioctl.h>
#include <unistd.h>

static char stty_out[4096];

/* Runs `stty -F path args` and keeps its output in stty_out. */
static void stty(const char *path, const char *args) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "stty -F %s %s 2>&1", path, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(stty_out, 1, sizeof stty_out - 1, p);
    stty_out[n] = '\0';
    assert_int_equal(pclose(p), 0);
}

/* Whether stty's output has `word` as a whole word. */
static int stty_has(const char *word) {
    size_t len = strlen(word);
    for (const char *p = stty_out; (p = strstr(p, word)) != NULL; p += len) {
        int start = p == stty_out || p[-1] == ' ' || p[-1] == '\n' || p[-1] == ';';
        int end = p[len] == ' ' || p[len] == '\n' || p[len] == ';' || p[len] == '\0';
        if (start && end)
            return 1;
    }
    return 0;
}

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

/* Reads from `h` until `want` has arrived (or 5 s pass); returns what was read. */
static const char *read_until(fdsafe_handle h, const char *want) {
    static char buf[4096];
    size_t got = 0;
    buf[0] = '\0';
    while (got < sizeof buf - 1 && !strstr(buf, want)) {
        if (fdsafe_wait(h, FDSAFE_EVENT_IN, 5000) != FDSAFE_EVENT_IN)
            break;
        int64_t n = fdsafe_read(h, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return buf;
}

static void test_get_then_set_changes_nothing(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    fdsafe_terminal_settings before, after;
    must(fdsafe_terminal_get(s, &before));
    /* A fresh pty's input flags: ICRNL|IXON (0x500). 0.1 wrote back 0x1502 (BRKINT, IXOFF). */
    assert_int_equal(before.iflag, ICRNL | IXON);
    assert_int_equal(before.iflag, 0x500);
    for (int when = FDSAFE_TERM_APPLY_NOW; when <= FDSAFE_TERM_APPLY_FLUSH; when++) {
        expect_code(fdsafe_terminal_set(s, &before, (uint32_t)when), 0);
        must(fdsafe_terminal_get(s, &after));
        assert_settings_equal(&after, &before);
    }
    /* The kernel agrees, word for word and character for character. */
    struct termios2 k;
    assert_int_equal(ioctl((int)must(fdsafe_fd_borrow(s)), TCGETS2, &k), 0);
    assert_int_equal(k.c_iflag, before.iflag);
    assert_int_equal(k.c_oflag, before.oflag);
    assert_int_equal(k.c_cflag, before.cflag);
    assert_int_equal(k.c_lflag, before.lflag);
    assert_memory_equal(k.c_cc, before.cc, FDSAFE_TERM_NCCS);
    assert_int_equal(k.c_ospeed, before.ospeed);
    /* And a view read and set back unchanged changes nothing either. */
    fdsafe_terminal_view v;
    must(fdsafe_terminal_view_get(&before, &v));
    assert_int_equal(v.mode, FDSAFE_TERM_CANONICAL);
    assert_int_equal(v.flow, FDSAFE_FLOW_OTHER); /* IXON without IXOFF */
    assert_int_equal(v.baud, 38400);
    after = before;
    must(fdsafe_terminal_view_set(&after, &v));
    assert_settings_equal(&after, &before);
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

/* Toggles every bit of every flag word, one at a time, on a fresh pty: each bit the kernel
 * keeps must read back as set and survive get-then-set again unchanged. */
static void test_every_flag_the_kernel_accepts_round_trips(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    fdsafe_terminal_settings fresh, t, back, again;
    must(fdsafe_terminal_get(s, &fresh));
    static const char *const names[] = {"iflag", "oflag", "cflag", "lflag"};
    uint32_t kept[4] = {0, 0, 0, 0};
    for (int w = 0; w < 4; w++) {
        for (int bit = 0; bit < 32; bit++) {
            t = fresh;
            uint32_t *word = &t.iflag + w;
            *word ^= 1u << bit;
            if (fdsafe_terminal_set(s, &t, FDSAFE_TERM_APPLY_NOW) == 0) {
                must(fdsafe_terminal_get(s, &back));
                if (((&back.iflag)[w] ^ (&fresh.iflag)[w]) & (1u << bit)) {
                    kept[w] |= 1u << bit;
                    expect_code(fdsafe_terminal_set(s, &back, FDSAFE_TERM_APPLY_NOW), 0);
                    must(fdsafe_terminal_get(s, &again));
                    assert_settings_equal(&again, &back);
                }
            }
            must(fdsafe_terminal_set(s, &fresh, FDSAFE_TERM_APPLY_NOW));
        }
        printf("    %s: the pty keeps a change of bits %#010x, not of %#010x\n", names[w], kept[w], ~kept[w]);
    }
    /* Every flag of termios(3) that a pty does not force. */
    uint32_t iflags = IGNBRK | BRKINT | IGNPAR | PARMRK | INPCK | ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | IXON | IXANY |
                      IXOFF | IMAXBEL | IUTF8;
    uint32_t oflags = OPOST | OLCUC | ONLCR | OCRNL | ONOCR | ONLRET | OFILL | OFDEL | NLDLY | CRDLY | TABDLY | BSDLY |
                      VTDLY | FFDLY;
    uint32_t cflags = CSTOPB | HUPCL | CLOCAL | CRTSCTS | CMSPAR | PARODD;
    uint32_t lflags = ISIG | ICANON | XCASE | ECHO | ECHOE | ECHOK | ECHONL | NOFLSH | TOSTOP | ECHOCTL | ECHOPRT |
                      ECHOKE | FLUSHO | PENDIN | IEXTEN | EXTPROC;
    assert_int_equal(kept[0] & iflags, iflags);
    assert_int_equal(kept[1] & oflags, oflags);
    assert_int_equal(kept[2] & cflags, cflags);
    assert_int_equal(kept[3] & lflags, lflags);
    /* What a pty forces (pty_set_termios): CS8, CREAD, no PARENB. */
    assert_int_equal(kept[2] & (CSIZE | PARENB | CREAD), 0);
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void test_single_output_flags_and_control_characters(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    fdsafe_terminal_settings t, back;
    must(fdsafe_terminal_get(s, &t));
    /* Clear ONLCR alone and set OCRNL: CR goes out as NL, NL stays NL. */
    t.oflag = (t.oflag & ~(uint32_t)ONLCR) | OCRNL;
    t.cc[VINTR] = 0x18;  /* ^X */
    t.cc[VEOF] = 0x01;   /* ^A */
    t.cc[VERASE] = 0x08; /* ^H */
    must(fdsafe_terminal_set(s, &t, FDSAFE_TERM_APPLY_NOW));
    must(fdsafe_terminal_get(s, &back));
    assert_settings_equal(&back, &t);
    stty(sp, "-a");
    assert_true(stty_has("-onlcr") && stty_has("ocrnl") && stty_has("opost"));
    assert_non_null(strstr(stty_out, "intr = ^X;"));
    assert_non_null(strstr(stty_out, "eof = ^A;"));
    assert_non_null(strstr(stty_out, "erase = ^H;"));
    expect_code(fdsafe_write(s, "a\rb\n", 4), 4);
    assert_non_null(strstr(read_until(m, "b\n"), "a\nb\n"));
    /* The new VEOF ends a canonical read without a newline. */
    expect_code(fdsafe_write(m, "ab\x01", 3), 3);
    char buf[8];
    expect_code(fdsafe_read(s, buf, sizeof buf), 2);
    assert_memory_equal(buf, "ab", 2);
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void set_view(fdsafe_handle s, fdsafe_terminal_view *v) {
    fdsafe_terminal_settings t;
    must(fdsafe_terminal_get(s, &t));
    must(fdsafe_terminal_view_set(&t, v));
    must(fdsafe_terminal_set(s, &t, FDSAFE_TERM_APPLY_NOW));
    must(fdsafe_terminal_get(s, &t));
    must(fdsafe_terminal_view_get(&t, v));
}

static void test_views_raw_cbreak_canonical_and_speeds(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64], buf[8];
    open_pty(&m, &s, sp, sizeof sp);
    fdsafe_terminal_settings fresh, t;
    fdsafe_terminal_view v;
    must(fdsafe_terminal_get(s, &fresh));
    must(fdsafe_terminal_view_get(&fresh, &v));

    /* cbreak (tty.setcbreak): no line editing, no echo; signals and output processing stay. */
    v.mode = FDSAFE_TERM_CBREAK;
    set_view(s, &v);
    assert_int_equal(v.mode, FDSAFE_TERM_CBREAK);
    stty(sp, "-a");
    assert_true(stty_has("-icanon") && stty_has("-echo") && stty_has("isig") && stty_has("opost") && stty_has("icrnl"));
    assert_non_null(strstr(stty_out, "min = 1; time = 0;"));
    expect_code(fdsafe_write(m, "x", 1), 1); /* one byte, no newline: readable at once */
    expect_code(fdsafe_wait(s, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_read(s, buf, sizeof buf), 1);

    /* raw (cfmakeraw): ^C arrives as a byte, nothing is translated. */
    v.mode = FDSAFE_TERM_RAW;
    set_view(s, &v);
    assert_int_equal(v.mode, FDSAFE_TERM_RAW);
    must(fdsafe_terminal_get(s, &t));
    assert_int_equal(t.iflag & (IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON), 0);
    assert_int_equal(t.oflag & OPOST, 0);
    assert_int_equal(t.lflag & (ECHO | ECHONL | ICANON | ISIG | IEXTEN), 0);
    assert_int_equal(t.cflag & (CSIZE | PARENB), CS8);
    stty(sp, "-a");
    assert_true(stty_has("-isig") && stty_has("-icanon") && stty_has("-opost") && stty_has("-ixon") && stty_has("-icrnl"));
    expect_code(fdsafe_write(m, "\x03\r", 2), 2);
    expect_code(fdsafe_wait(s, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    usleep(10000);
    expect_code(fdsafe_read(s, buf, sizeof buf), 2);
    assert_memory_equal(buf, "\x03\r", 2);

    /* Canonical again; speeds: a standard rate, then one through BOTHER. */
    v.mode = FDSAFE_TERM_CANONICAL;
    v.baud = 115200;
    v.stop_bits = 2;
    v.flow = FDSAFE_FLOW_RTSCTS;
    set_view(s, &v);
    assert_int_equal(v.mode, FDSAFE_TERM_CANONICAL);
    assert_int_equal(v.baud, 115200);
    assert_int_equal(v.stop_bits, 2);
    assert_int_equal(v.flow, FDSAFE_FLOW_RTSCTS);
    stty(sp, "-a");
    assert_non_null(strstr(stty_out, "speed 115200 baud"));
    assert_true(stty_has("icanon") && stty_has("echo") && stty_has("isig") && stty_has("onlcr") && stty_has("cstopb"));
    assert_true(stty_has("crtscts") && stty_has("-ixon") && stty_has("-ixoff"));
    v.baud = 12345;
    v.flow = FDSAFE_FLOW_XONXOFF;
    set_view(s, &v);
    assert_int_equal(v.baud, 12345);
    assert_int_equal(v.flow, FDSAFE_FLOW_XONXOFF);
    struct termios2 k;
    assert_int_equal(ioctl((int)must(fdsafe_fd_borrow(s)), TCGETS2, &k), 0);
    assert_int_equal(k.c_cflag & CBAUD, BOTHER);
    assert_int_equal(k.c_ospeed, 12345);
    assert_int_equal(k.c_ispeed, 12345);
    /* Data bits and parity: a pty forces CS8 and clears PARENB on every change, so the
     * kernel's answer is what the view reads (the encoding is covered by the Rust tests). */
    v.data_bits = 7;
    v.parity = FDSAFE_PARITY_EVEN;
    set_view(s, &v);
    assert_int_equal(v.data_bits, 8);
    assert_int_equal(v.parity, FDSAFE_PARITY_NONE);

    /* The other way: stty changes, the view reads. */
    stty(sp, "4800 -cstopb -icanon -crtscts -ixon -ixoff");
    must(fdsafe_terminal_get(s, &t));
    must(fdsafe_terminal_view_get(&t, &v));
    assert_int_equal(v.baud, 4800);
    assert_int_equal(v.stop_bits, 1);
    assert_int_equal(v.flow, FDSAFE_FLOW_NONE);
    assert_int_equal(v.mode, FDSAFE_TERM_OTHER); /* no line editing, but echo on */
    must(fdsafe_terminal_set(s, &fresh, FDSAFE_TERM_APPLY_NOW));
    must(fdsafe_terminal_get(s, &t));
    assert_settings_equal(&t, &fresh); /* restoring saved settings restores them exactly */
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void test_flow_and_queue_sizes(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char buf[16];
    must(fdsafe_pty_open(FDSAFE_NONBLOCK, &m, &s));
    /* Output suspended: the other end sees nothing, a non-blocking write cannot go. */
    expect_code(fdsafe_terminal_flow(s, FDSAFE_TERM_OUTPUT_OFF), 0);
    expect_code(fdsafe_write(s, "held", 4), -EAGAIN);
    expect_code(fdsafe_wait(m, FDSAFE_EVENT_IN, 50), 0);
    expect_code(fdsafe_terminal_flow(s, FDSAFE_TERM_OUTPUT_ON), 0);
    expect_code(fdsafe_write(s, "held", 4), 4);
    expect_code(fdsafe_wait(m, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_terminal_queue_size(m, FDSAFE_FLUSH_INPUT), 4); /* FIONREAD */
    expect_code(fdsafe_read(m, buf, sizeof buf), 4);
    expect_code(fdsafe_terminal_queue_size(m, FDSAFE_FLUSH_INPUT), 0);
    /* Input: STOP (^S) and START (^Q) are sent to the other end. */
    expect_code(fdsafe_terminal_flow(s, FDSAFE_TERM_INPUT_OFF), 0);
    expect_code(fdsafe_wait(m, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_read(m, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 0x13);
    expect_code(fdsafe_terminal_flow(s, FDSAFE_TERM_INPUT_ON), 0);
    expect_code(fdsafe_wait(m, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_read(m, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 0x11);
    /* Canonical input counts complete lines only. */
    expect_code(fdsafe_write(m, "ab", 2), 2);
    expect_code(fdsafe_terminal_queue_size(s, FDSAFE_FLUSH_INPUT), 0);
    expect_code(fdsafe_write(m, "c\n", 2), 2);
    expect_code(fdsafe_wait(s, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_terminal_queue_size(s, FDSAFE_FLUSH_INPUT), 4);
    expect_code(fdsafe_terminal_queue_size(s, FDSAFE_FLUSH_OUTPUT), 0); /* a pty sends at once */
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

static void test_termios_bad_input(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    fdsafe_terminal_settings t, before;
    fdsafe_terminal_view v, good;
    must(fdsafe_terminal_get(s, &before));
    must(fdsafe_terminal_view_get(&before, &good));
    expect_code(fdsafe_terminal_view_get(NULL, &v), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_view_get(&before, NULL), FDSAFE_E_INVALID_ARGUMENT);
    t = before;
    expect_code(fdsafe_terminal_view_set(NULL, &good), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_view_set(&t, NULL), FDSAFE_E_INVALID_ARGUMENT);
    const struct {
        size_t offset;
        uint32_t value;
    } bad[] = {
        {offsetof(fdsafe_terminal_view, mode), 4},      {offsetof(fdsafe_terminal_view, data_bits), 9},
        {offsetof(fdsafe_terminal_view, data_bits), 4}, {offsetof(fdsafe_terminal_view, data_bits), 256 + 8},
        {offsetof(fdsafe_terminal_view, stop_bits), 0}, {offsetof(fdsafe_terminal_view, stop_bits), 3},
        {offsetof(fdsafe_terminal_view, parity), 5},    {offsetof(fdsafe_terminal_view, flow), 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = good;
        v.mode = FDSAFE_TERM_RAW; /* would change much, if it were applied */
        memcpy((char *)&v + bad[i].offset, &bad[i].value, sizeof bad[i].value);
        expect_code(fdsafe_terminal_view_set(&t, &v), FDSAFE_E_INVALID_ARGUMENT);
        assert_settings_equal(&t, &before); /* untouched */
    }
    expect_code(fdsafe_terminal_get(s, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_set(s, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_terminal_set(s, &before, 3), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_terminal_get(r, &t), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_terminal_set(r, &before, 0), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(s));
    must(fdsafe_close(m));
}

/* The view of settings that are raw but for one thing is OTHER, never CBREAK: cbreak means
 * signal characters and output processing on (a program reading CBREAK counts on ^C raising
 * SIGINT). cbreak set from raw settings turns them on, so it reads back as cbreak. */
static void test_raw_but_for_one_thing_reads_as_other(void **state) {
    (void)state;
    fdsafe_handle m, s;
    char sp[64];
    open_pty(&m, &s, sp, sizeof sp);
    fdsafe_terminal_settings raw, t;
    fdsafe_terminal_view v;
    must(fdsafe_terminal_get(s, &raw));
    must(fdsafe_terminal_view_get(&raw, &v));
    v.mode = FDSAFE_TERM_RAW;
    must(fdsafe_terminal_view_set(&raw, &v));
    fdsafe_terminal_settings mixed[4] = {raw, raw, raw, raw}; /* raw but for one thing each */
    mixed[0].cflag = (raw.cflag & ~CSIZE) | CS7;
    mixed[1].lflag |= ISIG;
    mixed[2].oflag |= OPOST;
    mixed[3].iflag |= ICRNL;
    for (size_t i = 0; i < 4; i++) {
        must(fdsafe_terminal_view_get(&mixed[i], &v));
        assert_int_equal(v.mode, FDSAFE_TERM_OTHER);
    }
    t = raw;
    must(fdsafe_terminal_view_get(&t, &v));
    v.mode = FDSAFE_TERM_CBREAK;
    must(fdsafe_terminal_view_set(&t, &v));
    assert_true((t.lflag & ISIG) && (t.oflag & OPOST) && !(t.lflag & (ICANON | ECHO)));
    must(fdsafe_terminal_view_get(&t, &v));
    assert_int_equal(v.mode, FDSAFE_TERM_CBREAK);
    t = raw;
    must(fdsafe_terminal_view_get(&t, &v));
    v.data_bits = 7; /* raw with 7 data bits: neither raw nor cbreak */
    must(fdsafe_terminal_view_set(&t, &v));
    must(fdsafe_terminal_view_get(&t, &v));
    assert_int_equal(v.mode, FDSAFE_TERM_OTHER);
    must(fdsafe_close(m));
    must(fdsafe_close(s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_get_then_set_changes_nothing),
        FD_TEST(test_every_flag_the_kernel_accepts_round_trips),
        FD_TEST(test_single_output_flags_and_control_characters),
        FD_TEST(test_views_raw_cbreak_canonical_and_speeds),
        FD_TEST(test_raw_but_for_one_thing_reads_as_other),
        FD_TEST(test_flow_and_queue_sizes),
        FD_TEST(test_termios_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
