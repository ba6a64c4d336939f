//! Arranges cbindgen's output as a manual (included by `build.rs`).
//!
//! cbindgen writes every constant first, then every type, then every function, each group in
//! the order it parsed the sources: `fdsafe_close` came after fanotify, and a flag sat 1,700
//! lines from the function that takes it. This pass splits its output into items (a doc
//! comment and one declaration), finds the module of `src/ffi` that defines each item, and
//! writes one section per module, in the order of [`SECTIONS`], each item at its place in its
//! module's source (so a flag stays beside its function). An item used by an earlier one
//! (a type in a prototype, a constant in an array size) moves up to just before its first use,
//! so the header still compiles. Each section opens with a heading comment that is also a
//! doxygen group, which `make doc` turns into one HTML page per section and `scripts/gen_man.py`
//! reads for the man pages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;

/// One section of the header: the `src/ffi` module whose items it holds, its title, and what
/// a C reader needs to know before its functions.
pub struct Section {
    pub module: &'static str,
    pub title: &'static str,
    pub about: &'static str,
}

/// The teaching order: conventions, then the handle and what every handle can do, then the
/// kinds from the simplest, then the event machinery that waits on them, then the daemon glue.
/// A module of `src/ffi` missing here still gets a section, after these, titled by its name.
pub const SECTIONS: &[Section] = &[
    Section { module: "version", title: "Version",
        about: "The header's version (the FDSAFE_VERSION_* macros) and the version of the library actually loaded." },
    Section { module: "codes", title: "Return codes and error messages",
        about: "Every function returns >= 0 on success and a negative code on failure: -errno from the \
                kernel, or one of the FDSAFE_E_* codes below (all below -4095). fdsafe_strerror and \
                fdsafe_error_name describe any code; fdsafe_last_error gives the calling thread's last \
                failure message." },
    Section { module: "mod", title: "Handles",
        about: "An fdsafe_handle names one descriptor owned by the library: a generational 64-bit value \
                that never works again once closed, even after its slot and descriptor are reused. \
                Handles belong to the copy of the library that issued them: a process holding two \
                copies (a program linking libfdsafe.a that loads a plugin linking libfdsafe.so) has \
                two tables, and each copy refuses the other's values with -EBADF (a table's slots \
                start at a random generation, so a foreign value matches a live handle about once \
                in 2^30 tries). dlclose of the last copy with handles still open leaks their \
                descriptors: close them first." },
    Section { module: "kinds", title: "Kinds",
        about: "Every handle has a kind, fixed when it is made (fdsafe_handle_kind). A function for one \
                kind refuses the others with FDSAFE_E_WRONG_KIND." },
    Section { module: "handle", title: "Any handle: close, kind, borrow, release, adopt, I/O",
        about: "What every handle can do: close it, ask its kind, lend or give up its descriptor, adopt \
                a descriptor, duplicate it, switch non-blocking mode, wait for readiness, read and write." },
    Section { module: "batch", title: "Batches",
        about: "Several reads, writes or closes in one call." },
    Section { module: "sigpipe", title: "SIGPIPE",
        about: "How writes keep SIGPIPE away from the process." },
    Section { module: "eventfd", title: "eventfd",
        about: "A 64-bit counter to wake a thread or process up (eventfd(2))." },
    Section { module: "pipe", title: "Pipes",
        about: "A read end and a write end (pipe2(2)), each its own handle." },
    Section { module: "stdio", title: "Standard streams",
        about: "Standard input, output and error as handles that never close 0, 1 or 2." },
    Section { module: "file", title: "Files",
        about: "Regular files, and directories as the base of relative opens." },
    Section { module: "fifo", title: "FIFOs and devices",
        about: "Named pipes, device nodes and character devices." },
    Section { module: "memfd", title: "memfd",
        about: "Anonymous memory files (memfd_create(2)) and their seals." },
    Section { module: "terminal", title: "Terminals",
        about: "Terminals, serial ports and pseudo-terminals." },
    Section { module: "termios", title: "Terminal settings",
        about: "Terminal settings as the kernel keeps them (termios2), and the friendly view over them." },
    Section { module: "net", title: "TCP and UDP",
        about: "TCP listeners and connections and UDP sockets over IPv4 and IPv6; datagrams in batches." },
    Section { module: "socket", title: "Sockets of any kind",
        about: "Addresses, send and receive, shutdown, accept, connect, options and zero-copy \
                completions, for every socket kind." },
    Section { module: "generic_socket", title: "Sockets of any family, any option",
        about: "Sockets of any family, type and protocol (netlink, packet, vsock, raw IP) as \
                FDSAFE_KIND_SOCKET handles; any socket option by level and name; client sockets \
                bound to a chosen local address before they connect." },
    Section { module: "unix", title: "Unix sockets",
        about: "Unix domain sockets (stream, datagram, seqpacket), descriptor passing and credentials." },
    Section { module: "tun", title: "TUN/TAP devices",
        about: "/dev/net/tun attached to a TUN (IP) or TAP (Ethernet) interface: one whole packet \
                per read and per write, usable with epoll." },
    Section { module: "message", title: "Whole messages",
        about: "One send or receive of a whole message on any socket: its address, scattered data, \
                descriptors as handles, credentials and the kernel's message flags (sendmsg(2), recvmsg(2))." },
    Section { module: "splice", title: "Zero-copy moves",
        about: "splice, vmsplice, tee, sendfile and copy_file_range, with handles or with raw \
                descriptors the caller lends for the one call (*_fd)." },
    Section { module: "epoll", title: "epoll",
        about: "Readiness of many handles at once. Registrations are keyed by handle and end when the \
                handle is closed." },
    Section { module: "timerfd", title: "Timers",
        about: "timerfd: timers whose expirations are read from a handle." },
    Section { module: "signal", title: "Signals",
        about: "Signal sets, signal masks and signalfd." },
    Section { module: "pidfd", title: "Processes",
        about: "pidfd: a process as a handle, to signal it and wait for it." },
    Section { module: "pty_spawn", title: "Controlling terminals",
        about: "A child process started on a terminal as its controlling terminal (login_tty, forkpty)." },
    Section { module: "inotify", title: "inotify",
        about: "Changes to files and directories." },
    Section { module: "fanotify", title: "fanotify",
        about: "Filesystem events across mounts and filesystems, and permission decisions." },
    Section { module: "mqueue", title: "Message queues",
        about: "POSIX message queues." },
    Section { module: "daemon", title: "Service manager",
        about: "Socket activation and service notification (the systemd protocols, without libsystemd)." },
];

/// The section for items whose defining module was not found (a name made by a macro, say).
const UNPLACED: &str = "Other declarations";

/// cbindgen's `extern "C"` block, taken out of its output...
const CPP_OPEN: &str = "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n";
const CPP_CLOSE: &str = "#ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n";
/// ...and put back around the arranged declarations, in comments C89 reads too (to C89, `//`
/// after `#endif` is extra tokens).
const CPP_OPEN_C89: &str = "#ifdef __cplusplus\nextern \"C\" {\n#endif /* __cplusplus */\n";
const CPP_CLOSE_C89: &str = "#ifdef __cplusplus\n} /* extern \"C\" */\n#endif /* __cplusplus */\n";

/// One declaration with its doc comment, as cbindgen wrote it.
struct Item {
    text: String,
    name: String,
    is_function: bool,
}

/// Rearranges `header` (cbindgen's output). `prologue_end` is the text (the version macros)
/// after which the declarations start; `ffi_dir` is `src/ffi`. Returns the header and any
/// warnings for cargo (items it could not place).
pub fn arrange(header: &str, prologue_end: &str, ffi_dir: &Path) -> (String, Vec<String>) {
    let split = header.find(prologue_end).expect("the version macros in cbindgen's output") + prologue_end.len();
    let (prologue, rest) = header.split_at(split);
    let guard_end = rest.rfind("#endif").expect("the include guard's #endif");
    let body = rest[..guard_end].replacen(CPP_OPEN, "\n", 1).replacen(CPP_CLOSE, "\n", 1);
    let items = split_items(&body);
    let defined = index_sources(ffi_dir);
    let mut warnings = Vec::new();

    // Module -> items in source order.
    let mut by_module: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        match defined.get(&item.name) {
            Some((module, line)) => by_module.entry(module.clone()).or_default().push((*line, i)),
            None => {
                warnings.push(format!("fdsafe.h: no module of src/ffi defines `{}`; it goes under \"{UNPLACED}\"", item.name));
                by_module.entry(UNPLACED.to_string()).or_default().push((usize::MAX, i));
            }
        }
    }
    let mut order: Vec<(String, String, String)> = SECTIONS
        .iter()
        .map(|s| (s.module.to_string(), s.title.to_string(), s.about.to_string()))
        .collect();
    let known: HashSet<&str> = SECTIONS.iter().map(|s| s.module).collect();
    for module in by_module.keys().filter(|m| !known.contains(m.as_str()) && *m != UNPLACED) {
        order.push((module.clone(), module.clone(), String::new()));
    }
    order.push((UNPLACED.to_string(), UNPLACED.to_string(), String::new()));

    // Names declared by non-function items, for the dependency check.
    let type_or_const: HashMap<&str, usize> =
        items.iter().enumerate().filter(|(_, it)| !it.is_function).map(|(i, it)| (it.name.as_str(), i)).collect();
    let mut emitted = vec![false; items.len()];
    let mut sections: Vec<(String, String, String, Vec<usize>)> = Vec::new();
    for (module, title, about) in order {
        let mut list = by_module.remove(&module).unwrap_or_default();
        list.sort();
        let mut placed = Vec::new();
        for (_, i) in list {
            place(i, &items, &type_or_const, &mut emitted, &mut placed);
        }
        if !placed.is_empty() {
            sections.push((module, title, about, placed));
        }
    }

    let mut out = String::from(prologue);
    out.push_str(&contents(&sections));
    out.push('\n');
    out.push_str(CPP_OPEN_C89);
    for (number, (module, title, about, placed)) in sections.iter().enumerate() {
        out.push('\n');
        out.push_str(&heading(number + 1, module, title, about));
        for &i in placed {
            out.push('\n');
            out.push_str(&items[i].text);
            out.push('\n');
        }
        out.push_str("\n/** @} */\n");
    }
    out.push('\n');
    out.push_str(CPP_CLOSE_C89);
    out.push('\n');
    out.push_str(&rest[guard_end..]);
    (out, warnings)
}

/// Appends item `i` to `placed`, after the items it uses that are not placed yet.
fn place(i: usize, items: &[Item], names: &HashMap<&str, usize>, emitted: &mut [bool], placed: &mut Vec<usize>) {
    if emitted[i] {
        return;
    }
    emitted[i] = true;
    for word in identifiers(&code_of(&items[i].text)) {
        if let Some(&dep) = names.get(word.as_str()) {
            if dep != i {
                place(dep, items, names, emitted, placed);
            }
        }
    }
    placed.push(i);
}

/// The table of contents that follows the version macros.
fn contents(sections: &[(String, String, String, Vec<usize>)]) -> String {
    let mut out = String::from(concat!(
        "\n/*\n",
        " * How to read this header: it is the reference manual, in sections that build on each\n",
        " * other. Each function's comment says what it does, what it returns, the errors it\n",
        " * returns and from which threads it may be called; the constants and types a function\n",
        " * takes sit just above it. `man fdsafe` gives the overview, `man fdsafe_close` (any\n",
        " * function's name) one function.\n",
        " *\n",
        " * Sections:\n",
    ));
    for (number, (_, title, _, _)) in sections.iter().enumerate() {
        out.push_str(&format!(" *   {:>2}. {title}\n", number + 1));
    }
    out.push_str(" */\n");
    out
}

/// A section's heading comment: a doxygen group (`make doc` gives it a page), which
/// `scripts/gen_man.py` also reads (the `Section N:` line).
fn heading(number: usize, module: &str, title: &str, about: &str) -> String {
    let rule = "=".repeat(86);
    let mut out = format!("/* {rule} */\n/**\n * @defgroup fdsafe_{module} Section {number}: {title}\n");
    if !about.is_empty() {
        out.push_str(" *\n");
        for line in wrap(about, 88) {
            out.push_str(&format!(" * {line}\n"));
        }
    }
    out.push_str(" * @{\n */\n");
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().unwrap();
        if !last.is_empty() && last.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// Splits the declarations into items: a blank line outside braces ends one.
fn split_items(body: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut depth: i32 = 0;
    let mut in_comment = false;
    for line in body.lines() {
        if line.trim().is_empty() && depth == 0 && !in_comment {
            flush(&mut current, &mut items);
            continue;
        }
        let code = strip_comments(line, &mut in_comment);
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        current.push(line);
    }
    flush(&mut current, &mut items);
    items
}

fn flush(current: &mut Vec<&str>, items: &mut Vec<Item>) {
    if current.is_empty() {
        return;
    }
    let text = current.join("\n");
    current.clear();
    let code = code_of(&text);
    let (name, is_function) = declared_name(&code);
    items.push(Item { text, name, is_function });
}

/// What an item declares: a macro, a struct/enum/union tag, a typedef's name, or a function
/// (the identifier before the first parenthesis).
fn declared_name(code: &str) -> (String, bool) {
    let first = code.trim_start();
    let words = identifiers(first);
    let keyword = |i: usize| words.get(i).map(String::as_str);
    if let Some(rest) = first.strip_prefix("#define") {
        return (identifiers(rest).into_iter().next().unwrap_or_default(), false);
    }
    let tag = if keyword(0) == Some("typedef") { 1 } else { 0 };
    if matches!(keyword(tag), Some("struct" | "enum" | "union")) && first.find('{').is_some() {
        return (words.get(tag + 1).cloned().unwrap_or_default(), false);
    }
    if tag == 1 {
        let before_semicolon = first.split(';').next().unwrap_or("");
        return (identifiers(before_semicolon).pop().unwrap_or_default(), false);
    }
    match first.find('(') {
        Some(paren) => (identifiers(&first[..paren]).pop().unwrap_or_default(), true),
        None => (words.last().cloned().unwrap_or_default(), false),
    }
}

/// The code of an item, comments removed.
fn code_of(text: &str) -> String {
    let mut in_comment = false;
    text.lines().map(|l| strip_comments(l, &mut in_comment)).collect::<Vec<_>>().join("\n")
}

fn strip_comments(line: &str, in_comment: &mut bool) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        if *in_comment {
            match rest.find("*/") {
                Some(end) => {
                    rest = &rest[end + 2..];
                    *in_comment = false;
                }
                None => return out,
            }
        } else {
            let block = rest.find("/*");
            let line_comment = rest.find("//");
            match (block, line_comment) {
                (Some(b), Some(l)) if l < b => return out + &rest[..l],
                (None, Some(l)) => return out + &rest[..l],
                (Some(b), _) => {
                    out.push_str(&rest[..b]);
                    rest = &rest[b + 2..];
                    *in_comment = true;
                }
                (None, None) => return out + rest,
            }
        }
    }
}

fn identifiers(code: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in code.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else if !word.is_empty() {
            if !word.as_bytes()[0].is_ascii_digit() {
                words.push(word.clone());
            }
            word.clear();
        }
    }
    words
}

/// Where each public item of `src/ffi` is defined: name -> (module, line). The module is the
/// file's stem (`mod` for `mod.rs` at the top, the folder's name for a nested `mod.rs`).
fn index_sources(ffi_dir: &Path) -> HashMap<String, (String, usize)> {
    let mut found = HashMap::new();
    let mut files = Vec::new();
    collect_rs(ffi_dir, &mut files);
    files.sort();
    for path in files {
        let module = match path.file_stem().and_then(|s| s.to_str()) {
            Some("mod") if path.parent() != Some(ffi_dir) => {
                path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).unwrap_or("mod").to_string()
            }
            Some(stem) => stem.to_string(),
            None => continue,
        };
        let Ok(source) = fs::read_to_string(&path) else { continue };
        for (number, line) in source.lines().enumerate() {
            if let Some(name) = defined_here(line) {
                found.entry(name).or_insert((module.clone(), number));
            }
        }
    }
    found
}

fn collect_rs(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The name a `pub` item on this line defines (`pub const X`, `pub extern "C" fn x`...).
fn defined_here(line: &str) -> Option<String> {
    let words = identifiers(line.split("//").next().unwrap_or(""));
    if words.first().map(String::as_str) != Some("pub") {
        return None;
    }
    let pos = words.iter().position(|w| matches!(w.as_str(), "fn" | "const" | "type" | "struct" | "enum" | "union" | "static"))?;
    let name = words.get(pos + 1)?;
    Some(if name == "mut" { words.get(pos + 2)?.clone() } else { name.clone() })
}
