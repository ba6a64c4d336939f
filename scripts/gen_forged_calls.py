#!/usr/bin/env python3
"""Generates c-tests/forged_calls.h from include/fdsafe.h: one wrapper per exported function
that takes an `fdsafe_handle` by value (one per handle parameter, for functions with several),
each calling the function with a forged value in that parameter and plausible valid values
everywhere else, so that a refusal of the forged handle (`-EBADF`) is the only thing that can
come back. c-tests/test_forged.c runs every wrapper with every forged value.

    scripts/gen_forged_calls.py            # (re)write c-tests/forged_calls.h
    scripts/gen_forged_calls.py --check    # fail (exit 1) if the committed file is stale

A wrapper has the type `int64_t (*)(fdsafe_handle forged, void *scratch)`. `scratch` is a
zeroed, 4096-byte-aligned buffer of FORGED_SCRATCH_SIZE bytes: each pointer parameter gets
its own FORGED_REGION-byte region of it (output buffers, structs, out-handles). Inputs that
must not be all zero (a socket address, an iovec, terminal settings) are written into their
region before the call and cleared after it, so the scratch is all zero again after any call
that the library refused. The other handle parameters of a function take live handles from
`forged_live`, which the test fills.

Values are chosen by parameter name (and function, where one name means different things);
a parameter without a rule gets a type default and is listed on standard error as a warning,
so that a new function in the header is noticed and given a proper value.
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "include" / "fdsafe.h"
OUTPUT = ROOT / "c-tests" / "forged_calls.h"

SCRATCH_SIZE = 65536
REGION = 8192  # the largest struct passed (fdsafe_fanotify_event) is about 4.5 KiB
MAX_HANDLE_OUTS = 4

INTEGER_TYPES = {
    "int", "unsigned", "unsigned int", "long", "size_t", "ssize_t", "int32_t", "uint32_t",
    "int64_t", "uint64_t", "uint16_t", "uint8_t", "int16_t", "int8_t", "pid_t", "off_t",
    "fdsafe_kind", "bool",
}

# Which live handle fills a handle parameter that is not the forged one (a field of
# `forged_live`), by (function, parameter) or by parameter alone.
OTHER_HANDLE = {
    ("fdsafe_splice", "in"): "pipe_read",
    ("fdsafe_splice", "out"): "pipe_write",
    ("fdsafe_tee", "in"): "pipe_read",
    ("fdsafe_tee", "out"): "pipe_write",
    ("fdsafe_sendfile", "in"): "file",
    ("fdsafe_sendfile", "out"): "pipe_write",
    ("fdsafe_copy_file_range", "in"): "file",
    ("fdsafe_copy_file_range", "out"): "file2",
    (None, "epoll"): "epoll",
    (None, "target"): "eventfd",
}

# Scalar values: (function or None, parameter) -> C expression.
SCALARS = {
    (None, "flags"): "0",
    ("fdsafe_fanotify_mark", "flags"): "FDSAFE_FAN_MARK_ADD",
    ("fdsafe_file_open_at", "flags"): "FDSAFE_O_RDONLY",
    (None, "len"): "16",
    (None, "count"): "1",
    (None, "max"): "1",
    (None, "max_events"): "1",
    (None, "handles_cap"): "1",
    (None, "cap"): "16",
    (None, "text_cap"): "64",
    (None, "addr_cap"): "128",  # sizeof(struct sockaddr_storage): fdsafe refuses less
    (None, "addr_len"): "sizeof(struct sockaddr_in)",
    (None, "iovcnt"): "1",
    (None, "bytes"): "65536",
    (None, "timeout_ms"): "0",
    (None, "timeout_ns"): "0",
    (None, "events"): "FDSAFE_EVENT_IN",
    (None, "user"): "7",
    ("fdsafe_eventfd_write", "value"): "1",
    ("fdsafe_socket_option_set", "value"): "65536",
    ("fdsafe_mq_notify_signal", "value"): "0",
    (None, "level"): "FDSAFE_SOL_SOCKET",
    ("fdsafe_socket_option_get", "name"): "FDSAFE_SO_RCVBUF",
    ("fdsafe_socket_option_set", "name"): "FDSAFE_SO_RCVBUF",
    (None, "how"): "FDSAFE_SHUT_RD",
    (None, "seals"): "FDSAFE_SEAL_SHRINK",
    (None, "signal"): "0",  # only checks that the process exists
    (None, "signo"): "SIGURG",  # ignored by default
    ("fdsafe_inotify_add_watch", "mask"): "FDSAFE_IN_MODIFY",
    ("fdsafe_fanotify_mark", "mask"): "FDSAFE_FAN_MODIFY",
    (None, "wd"): "1",
    (None, "id"): "1",
    (None, "response"): "FDSAFE_FAN_ALLOW",
    (None, "whence"): "FDSAFE_SEEK_SET",
    (None, "offset"): "0",
    (None, "length"): "0",
    (None, "value_ns"): "0",
    (None, "interval_ns"): "0",
    (None, "priority"): "0",
    (None, "kind"): "FDSAFE_KIND_OTHER",
    (None, "target_fd"): "forged_live_fds[0]",
    (None, "set"): "FDSAFE_MODEM_DTR",
    (None, "clear"): "0",
    (None, "queue"): "FDSAFE_FLUSH_INPUT",
    (None, "when"): "FDSAFE_TERM_APPLY_NOW",
    (None, "action"): "FDSAFE_TERM_OUTPUT_ON",
    (None, "duration_ms"): "0",
    (None, "nonblocking"): "true",
    (None, "exclusive"): "false",
    (None, "resolve"): "0",
    (None, "mode"): "0",
    (None, "uid"): "UINT32_MAX",  # (uid_t)-1: unchanged
    (None, "gid"): "UINT32_MAX",
    ("fdsafe_file_allocate", "len"): "1",
    ("fdsafe_pidfd_waitid", "flags"): "FDSAFE_PIDFD_WAIT_EXITED | FDSAFE_PIDFD_WAIT_NOHANG",
}

# Pointer parameters that are not plain scratch: (function or None, parameter) -> kind.
#   literal:<C expression>   passed as is
#   fill:<helper>            the region, filled by forged_fill_<helper> before the call
POINTERS = {
    (None, "address"): "literal:\"127.0.0.1:9\"",
    (None, "group"): "literal:\"239.1.2.3\"",
    (None, "interface"): "literal:\"lo\"",
    (None, "path"): "literal:\".\"",
    (None, "creds"): "literal:NULL",  # the caller's own credentials
    (None, "off_in"): "literal:NULL",  # use the file position
    (None, "off_out"): "literal:NULL",
    (None, "handles"): "literal:forged_live_list",
    (None, "fds"): "literal:forged_live_fds",
    (None, "addr"): "fill:sockaddr",  # const void *addr with addr_len
    (None, "iov"): "fill:iovec",
    (None, "settings"): "fill:terminal_settings",
    ("fdsafe_terminal_spawn", "program"): "literal:\"true\"",
    ("fdsafe_terminal_spawn", "argv"): "literal:(const char *const[]){\"true\", NULL}",
    ("fdsafe_terminal_spawn", "envp"): "literal:NULL",
}

FILL_SIZES = {
    "sockaddr": "sizeof(struct sockaddr_in)",
    "iovec": "sizeof(struct iovec)",
    "terminal_settings": "sizeof(struct fdsafe_terminal_settings)",
}


class Param:
    def __init__(self, text):
        text = " ".join(text.replace("*", " * ").split())
        m = re.fullmatch(r"(.*?)\s*\b([A-Za-z_]\w*)", text)
        if not m or "(" in text:
            raise SystemExit(f"cannot parse parameter {text!r}")
        self.type = m.group(1).replace(" *", "*").replace("* ", "*").strip()
        self.name = m.group(2)
        self.pointer = "*" in self.type
        self.const = self.type.startswith("const ")


def strip_header(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    lines, skip = [], False
    for line in text.split("\n"):
        if skip or line.lstrip().startswith("#"):
            skip = line.rstrip().endswith("\\")
            continue
        lines.append(line)
    return "\n".join(lines)


def prototypes(text):
    text = strip_header(text)
    text = re.sub(r'extern\s+"C"\s*\{', " ", text)
    found = []
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(fdsafe_\w+)\s*\(([^;{}()]*)\)\s*;", text):
        ret = " ".join(m.group(1).split())
        name = m.group(2)
        args = " ".join(m.group(3).split())
        params = [] if args in ("", "void") else [Param(a) for a in args.split(",")]
        found.append((ret, name, params))
    return found


def rule(table, function, name):
    if (function, name) in table:
        return table[(function, name)]
    return table.get((None, name))


def generate(header_text):
    warnings = []
    wrappers, entries, skipped = [], [], []
    for ret, function, params in prototypes(header_text):
        handle_positions = [i for i, p in enumerate(params) if p.type == "fdsafe_handle"]
        if not handle_positions:
            skipped.append(function)
            continue
        if "*" in ret:
            raise SystemExit(f"{function} returns a pointer ({ret}); the wrappers return int64_t")
        for forged_at in handle_positions:
            forged_name = params[forged_at].name
            wrapper = f"forged_{function[len('fdsafe_'):]}" + (
                f"__{forged_name}" if len(handle_positions) > 1 else "")
            args, before, after, handle_outs = [], [], [], []
            region = 0
            for i, p in enumerate(params):
                if i == forged_at:
                    args.append("forged")
                elif p.type == "fdsafe_handle":
                    field = rule(OTHER_HANDLE, function, p.name) or "any"
                    args.append(f"forged_live.{field}")
                elif p.pointer:
                    how = rule(POINTERS, function, p.name)
                    if how and how.startswith("literal:"):
                        args.append(how[len("literal:"):])
                        continue
                    if region >= SCRATCH_SIZE // REGION:
                        raise SystemExit(f"{function}: more pointer parameters than scratch regions")
                    offset = region * REGION
                    region += 1
                    where = f"s + {offset}" if offset else "s"
                    if how and how.startswith("fill:"):
                        helper = how[len("fill:"):]
                        before.append(f"forged_fill_{helper}({where});")
                        after.append(f"memset({where}, 0, {FILL_SIZES[helper]});")
                    elif p.const and p.type not in ("const void*",) and not p.type.startswith("const struct"):
                        warnings.append(f"{function}: const pointer parameter {p.type} {p.name} "
                                        "gets a zeroed scratch region")
                    if p.type == "fdsafe_handle*":
                        handle_outs.append(offset)
                    base = (p.type.replace("const ", "", 1) if p.const else p.type)[:-1].strip()
                    if base in ("void", "char"):
                        args.append(where)  # converts implicitly
                    else:
                        args.append(f"({'const ' if p.const else ''}{base} *)(void *)({where})")
                else:
                    value = rule(SCALARS, function, p.name)
                    if value is None:
                        if p.type not in INTEGER_TYPES:
                            raise SystemExit(f"{function}: no value for {p.type} {p.name}")
                        value = "false" if p.type == "bool" else "0"
                        warnings.append(f"{function}: no rule for {p.type} {p.name}; using {value}")
                    args.append(value)
            if len(handle_outs) > MAX_HANDLE_OUTS:
                raise SystemExit(f"{function}: more than {MAX_HANDLE_OUTS} handle out-parameters")
            body = []
            uses_scratch = region > 0
            if uses_scratch:
                body.append("    char *s = scratch;")
            else:
                body.append("    (void)scratch;")
            call = f"{function}({', '.join(args)})"
            if after:
                body += [f"    {line}" for line in before]
                body.append(f"    int64_t result = (int64_t){call};")
                body += [f"    {line}" for line in after]
                body.append("    return result;")
            else:
                body += [f"    {line}" for line in before]
                body.append(f"    return (int64_t){call};")
            wrappers.append(f"static int64_t {wrapper}(fdsafe_handle forged, void *scratch) {{\n"
                            + "\n".join(body) + "\n}\n")
            outs = ", ".join(str(o) for o in handle_outs) or "0"
            entries.append(f'    {{"{function}", "{forged_name}", {forged_at}, {len(handle_positions)}, '
                           f"{wrapper}, {{{outs}}}, {len(handle_outs)}}},")
    return render(wrappers, entries, skipped), warnings


def render(wrappers, entries, skipped):
    skipped_text = "\n".join(" *   " + line for line in wrap_names(skipped))
    return f"""/* Generated by scripts/gen_forged_calls.py from include/fdsafe.h. Do not edit: run
 * `python3 scripts/gen_forged_calls.py` to regenerate (`--check` tells whether this file is
 * stale). Included by c-tests/test_forged.c only.
 *
 * One wrapper per exported function that takes an fdsafe_handle by value (one per handle
 * parameter for functions with several), calling it with `forged` in that parameter and
 * plausible valid values elsewhere: live handles from `forged_live` for the other handle
 * parameters, and regions of `scratch` (zeroed, FORGED_SCRATCH_SIZE bytes, 4096-aligned)
 * for pointers. A wrapper leaves the scratch as it found it unless the call succeeded; a
 * new handle a call wrote is at scratch + handle_out_offsets[i].
 *
 * Functions without a handle parameter by value (not wrapped):
{skipped_text}
 */
#ifndef FDSAFE_FORGED_CALLS_H
#define FDSAFE_FORGED_CALLS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include <fdsafe.h>

#define FORGED_SCRATCH_SIZE {SCRATCH_SIZE}
#define FORGED_REGION {REGION}
#define FORGED_MAX_HANDLE_OUTS {MAX_HANDLE_OUTS}

/* Live handles for the parameters that are not forged; the test fills them. */
struct forged_live_handles {{
    fdsafe_handle any, pipe_read, pipe_write, file, file2, eventfd, epoll;
}};
static struct forged_live_handles forged_live __attribute__((unused));
/* A one-handle list and a one-descriptor list, both live (for the list parameters). */
static fdsafe_handle forged_live_list[1] __attribute__((unused));
static int forged_live_fds[1] __attribute__((unused));

/* 127.0.0.1:9 (discard). */
static void forged_fill_sockaddr(void *p) __attribute__((unused));
static void forged_fill_sockaddr(void *p) {{
    struct sockaddr_in *a = p;
    a->sin_family = AF_INET;
    a->sin_port = htons(9);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}}

/* One iovec of 16 bytes, pointing further into the same region. */
static void forged_fill_iovec(void *p) __attribute__((unused));
static void forged_fill_iovec(void *p) {{
    struct iovec *v = p;
    v->iov_base = (char *)p + 1024;
    v->iov_len = 16;
}}

/* Raw mode (cfmakeraw), 38400 bit/s, 8N1, no flow control: settings every terminal takes.
 * The kernel's values: B38400 0xf, CS8 0x30, CREAD 0x80; VMIN is control character 6. */
static void forged_fill_terminal_settings(void *p) __attribute__((unused));
static void forged_fill_terminal_settings(void *p) {{
    struct fdsafe_terminal_settings *t = p;
    t->cflag = 0xf | 0x30 | 0x80;
    t->cc[6] = 1;
    t->ispeed = 38400;
    t->ospeed = 38400;
}}

typedef int64_t (*forged_call_fn)(fdsafe_handle forged, void *scratch);

struct forged_call {{
    const char *function;  /* the exported function */
    const char *parameter; /* the parameter that gets the forged value */
    int position;          /* its index among the parameters */
    int handle_params;     /* how many fdsafe_handle parameters the function has */
    forged_call_fn call;
    size_t handle_out_offsets[FORGED_MAX_HANDLE_OUTS]; /* where new handles would be written */
    int handle_outs;
}};

{chr(10).join(wrappers)}
static const struct forged_call forged_calls[] = {{
{chr(10).join(entries)}
}};

#define FORGED_CALL_COUNT (sizeof forged_calls / sizeof forged_calls[0])

#endif
"""


def wrap_names(names, width=88):
    lines, line = [], ""
    for name in names:
        piece = (", " if line else "") + name
        if len(line) + len(piece) > width:
            lines.append(line + ",")
            line = name
        else:
            line += piece
    if line:
        lines.append(line)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--header", type=Path, default=HEADER)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is not what would be generated")
    parser.add_argument("--quiet", action="store_true", help="no warnings about parameters without a rule")
    args = parser.parse_args()
    text, warnings = generate(args.header.read_text())
    if not args.quiet:
        for w in warnings:
            print(f"gen_forged_calls: warning: {w}", file=sys.stderr)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python3 scripts/gen_forged_calls.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text)
    count = text.count("\n    {\"fdsafe_")
    print(f"wrote {args.out}: {count} forged calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
