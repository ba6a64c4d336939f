//! Random sequences of C-API calls over a small pool of handles: live ones, closed ones,
//! forged values, with NULL pointers, absurd lengths and unknown flags. After every call: no
//! panic reached the boundary (FDSAFE_E_INTERNAL) and stale handles gave -EBADF. After every
//! sequence: no handle and no descriptor is left behind.
#![no_main]

use std::collections::BTreeSet;
use std::ffi::c_void;
use std::ptr;

use fdsafe::ffi::codes::*;
use fdsafe::ffi::eventfd::*;
use fdsafe::ffi::handle::*;
use fdsafe::ffi::kinds::*;
use fdsafe::ffi::pipe::*;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Target {
    Live(u8),
    Closed(u8),
    Forged(u64),
    Zero,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Length {
    Fits(u16),
    Zero,
    Max,
    AboveIsizeMax,
    NullWith(u16),
}

#[derive(Arbitrary, Debug)]
enum Call {
    PipeCreate { flags: u32 },
    EventfdCreate { initial: u32, flags: u32 },
    Close(Target),
    Dup(Target),
    ReleaseThenCloseRaw(Target),
    AdoptRawPipe { kind: u32 },
    AdoptBorrowed { target: Target, kind: u32 },
    Read(Target, Length),
    Write(Target, Length),
    Readv(Target, u8, i32),
    Writev(Target, u8, i32),
    Wait(Target, u32, i32),
    NonblockingGet(Target),
    NonblockingCycle(Target),
    EventfdRead(Target, bool),
    EventfdWrite(Target, u64),
    PipeCapacity(Target),
    PipeSetCapacity(Target, u32),
    Kind(Target),
    KindName(u32),
    Borrow(Target),
    LastError(u16, bool),
    ErrorText(i32),
}

struct Pool {
    live: Vec<u64>,
    closed: Vec<u64>,
}

impl Pool {
    fn pick(&self, target: Target) -> (u64, bool) {
        match target {
            Target::Live(i) if !self.live.is_empty() => (self.live[i as usize % self.live.len()], false),
            Target::Closed(i) if !self.closed.is_empty() => (self.closed[i as usize % self.closed.len()], true),
            Target::Forged(v) => (v, false),
            _ => (0, true),
        }
    }
    fn keep(&mut self, handle: u64) {
        if self.live.len() < 16 {
            self.live.push(handle);
        } else {
            assert_eq!(fdsafe_close(handle), 0);
        }
    }
    fn forget(&mut self, handle: u64) {
        self.live.retain(|h| *h != handle);
        self.closed.push(handle);
    }
}

fn open_fds() -> BTreeSet<String> {
    std::fs::read_dir("/proc/self/fd").unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().into_string().unwrap()).collect()
}

fn check(rc: i64, stale: bool, call: &Call) {
    assert_ne!(rc, FDSAFE_E_INTERNAL as i64, "a panic reached the boundary in {call:?}");
    assert!(rc >= -4095 || [FDSAFE_E_WRONG_KIND, FDSAFE_E_INVALID_ARGUMENT, FDSAFE_E_BUFFER_TOO_SMALL].contains(&(rc as i32)),
        "unknown code {rc} from {call:?}");
    if stale {
        assert!(rc == -(libc::EBADF as i64) || rc == FDSAFE_E_INVALID_ARGUMENT as i64, "stale handle worked: {rc} in {call:?}");
    }
}

fn buffer(len: Length, storage: &mut [u8]) -> (*mut c_void, usize) {
    match len {
        Length::Fits(n) => (storage.as_mut_ptr().cast(), (n as usize).min(storage.len())),
        Length::Zero => (storage.as_mut_ptr().cast(), 0),
        Length::Max => (storage.as_mut_ptr().cast(), usize::MAX),
        Length::AboveIsizeMax => (storage.as_mut_ptr().cast(), isize::MAX as usize + 1),
        Length::NullWith(n) => (ptr::null_mut(), n as usize),
    }
}

fn run(pool: &mut Pool, call: &Call) {
    let mut storage = [0u8; 4096];
    let mut out = 0u64;
    let (rc, stale): (i64, bool) = match *call {
        Call::PipeCreate { flags } => {
            let (mut r, mut w) = (0, 0);
            let rc = fdsafe_pipe_create(flags | FDSAFE_PIPE_NONBLOCK, &mut r, &mut w);
            if rc == 0 {
                pool.keep(r);
                pool.keep(w);
            }
            (rc as i64, false)
        }
        Call::EventfdCreate { initial, flags } => {
            let rc = fdsafe_eventfd_create(initial, flags | FDSAFE_EVENTFD_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::Close(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_close(h);
            if rc == 0 {
                pool.forget(h);
            }
            (rc as i64, stale)
        }
        Call::Dup(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_dup(h, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, stale)
        }
        Call::ReleaseThenCloseRaw(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_fd_release(h);
            if rc >= 0 {
                pool.forget(h);
                unsafe { libc::close(rc) };
            }
            (rc as i64, stale)
        }
        Call::AdoptRawPipe { kind } => {
            let mut fds = [0; 2];
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) }, 0);
            for fd in fds {
                let rc = fdsafe_fd_adopt(fd, kind, &mut out);
                check(rc as i64, false, call);
                if rc == 0 {
                    pool.keep(out);
                } else {
                    unsafe { libc::close(fd) }; // refused: still ours
                }
            }
            (0, false)
        }
        Call::AdoptBorrowed { target, kind } => {
            let (h, _) = pool.pick(target);
            let fd = fdsafe_fd_borrow(h);
            if fd >= 0 {
                // Already owned by a live handle: must be refused, never double-owned.
                assert_eq!(fdsafe_fd_adopt(fd, kind, &mut out), FDSAFE_E_INVALID_ARGUMENT);
            }
            (0, false)
        }
        Call::Read(t, len) => {
            let (h, stale) = pool.pick(t);
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_read(h, p, n), stale)
        }
        Call::Write(t, len) => {
            let (h, stale) = pool.pick(t);
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_write(h, p, n), stale)
        }
        Call::Readv(t, count, iovcnt) | Call::Writev(t, count, iovcnt) => {
            let (h, stale) = pool.pick(t);
            let chunk = storage.len() / 8;
            let base = storage.as_mut_ptr();
            let iov: Vec<libc::iovec> =
                (0..8).map(|i| libc::iovec { iov_base: unsafe { base.add(i * chunk) }.cast(), iov_len: chunk }).collect();
            // Only counts the array really holds, or counts the library must refuse.
            let cnt = if iovcnt < 0 || iovcnt > 1024 { iovcnt } else { (count % 9) as i32 };
            let iov_ptr = if count == 255 { ptr::null() } else { iov.as_ptr() };
            let rc = if matches!(call, Call::Readv(..)) { fdsafe_readv(h, iov_ptr, cnt) } else { fdsafe_writev(h, iov_ptr, cnt) };
            (rc, stale)
        }
        Call::Wait(t, events, timeout) => {
            let (h, stale) = pool.pick(t);
            let timeout = if timeout >= -1 { 0 } else { timeout }; // never wait for ever
            (fdsafe_wait(h, events, timeout) as i64, stale)
        }
        Call::NonblockingGet(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_nonblocking_get(h) as i64, stale)
        }
        Call::NonblockingCycle(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_nonblocking_set(h, false);
            fdsafe_nonblocking_set(h, true); // keep every descriptor non-blocking
            (rc as i64, stale)
        }
        Call::EventfdRead(t, null) => {
            let (h, stale) = pool.pick(t);
            let p = if null { ptr::null_mut() } else { &mut out as *mut u64 };
            (fdsafe_eventfd_read(h, p) as i64, stale)
        }
        Call::EventfdWrite(t, v) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_eventfd_write(h, v) as i64, stale)
        }
        Call::PipeCapacity(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_pipe_get_capacity(h), stale)
        }
        Call::PipeSetCapacity(t, bytes) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_pipe_set_capacity(h, bytes as usize), stale)
        }
        Call::Kind(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_handle_kind(h) as i64, stale)
        }
        Call::KindName(k) => {
            assert!(!fdsafe_kind_name(k).is_null());
            (0, false)
        }
        Call::Borrow(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_fd_borrow(h) as i64, stale)
        }
        Call::LastError(len, null) => {
            let p = if null { ptr::null_mut() } else { storage.as_mut_ptr().cast() };
            let n = (len as usize).min(storage.len());
            (fdsafe_last_error(p, n) as i64, false)
        }
        Call::ErrorText(code) => {
            assert!(!fdsafe_strerror(code).is_null() && !fdsafe_error_name(code).is_null());
            (0, false)
        }
    };
    check(rc, stale, call);
}

fuzz_target!(|calls: Vec<Call>| {
    let before = open_fds();
    let mut pool = Pool { live: Vec::new(), closed: Vec::new() };
    for call in calls.iter().take(64) {
        run(&mut pool, call);
    }
    for h in pool.live.drain(..) {
        assert_eq!(fdsafe_close(h), 0, "a live handle could not be closed");
    }
    assert_eq!(fdsafe::handles::TABLE.live_count(), 0, "handles left alive");
    assert_eq!(open_fds(), before, "descriptors leaked or closed");
});
