//! POSIX message queues.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::time::Duration;

use super::kinds::map_flags;
use super::signal::{c_str, read_in, read_opt};
use super::{call, fdsafe_handle, in_slice, out_slice, Out};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Handle};
use crate::kinds::mqueue::{MessageQueue, MqAttr, MqFlags};


/// A queue's attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fdsafe_mq_attr {
    /// 1 if the descriptor is in non-blocking mode, else 0 (the only attribute
    /// `fdsafe_mq_set_attr` changes).
    pub nonblocking: u32,
    /// Always 0.
    pub reserved: u32,
    /// The most messages the queue holds (fixed at creation; at most `fs.mqueue.msg_max`,
    /// 10 by default, which these machines enforce even for root).
    pub max_messages: i64,
    /// The largest message, in bytes (fixed at creation).
    pub message_size: i64,
    /// Messages in the queue now (ignored by `fdsafe_mq_set_attr`).
    pub current_messages: i64,
}

impl From<MqAttr> for fdsafe_mq_attr {
    fn from(a: MqAttr) -> Self {
        fdsafe_mq_attr {
            nonblocking: a.nonblocking as u32,
            reserved: 0,
            max_messages: a.max_messages,
            message_size: a.message_size,
            current_messages: a.current_messages,
        }
    }
}

fn name_arg<'a>(name: *const c_char) -> Result<&'a CStr> {
    c_str(name, "name")
}

fn timeout_arg(timeout_ns: i64) -> Option<Duration> {
    (timeout_ns >= 0).then(|| Duration::from_nanos(timeout_ns as u64))
}

/// Opens (and with `FDSAFE_O_CREAT` creates) the message queue `name`, as `mq_open(3)`.
///
/// `name` must start with `/`, have 1 to 255 more characters and no other `/` (and not be
/// `/.` or `/..`). `flags` (the kernel's values): `FDSAFE_O_RDONLY` (receive),
/// `FDSAFE_O_WRONLY` (send) or `FDSAFE_O_RDWR`, plus `FDSAFE_O_CREAT`, `FDSAFE_O_EXCL` (only
/// with create), `FDSAFE_NONBLOCK` (sends to a full and receives from an empty queue return
/// `-EAGAIN`), `FDSAFE_O_CLOEXEC` (always in force).
/// `mode` (permission bits, at most 07777) and `attr` (NULL: the system defaults; else its
/// `max_messages` and `message_size`, both > 0) are used, and checked, only with
/// `FDSAFE_O_CREAT`; without it they are ignored, as by the raw call.
/// The descriptor is close-on-exec and pollable: readable while the queue has messages,
/// writable while it has room, so a queue can sit in an epoll set.
///
/// Ownership: the caller owns `*handle_out`; closing it does not remove the queue (see
/// `fdsafe_mq_unlink`). Errors: `FDSAFE_E_INVALID_ARGUMENT` for a bad name, unknown or
/// contradictory flags, a bad mode or attributes with `FDSAFE_O_CREAT`, NULL `name` or
/// `handle_out`; from the kernel `-ENOENT`, `-EEXIST`, `-EACCES`, `-EINVAL` (attributes
/// above `fs.mqueue.msg_max` / `msgsize_max`: on these machines more than 10 messages is
/// refused even for root), `-EMFILE`, `-ENOSPC`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    attr: *const fdsafe_mq_attr,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_mq_open", || {
        let name = name_arg(name)?;
        let (read, write) = super::file::access_mode(flags)?;
        let mut flags = map_flags(
            flags & !3,
            &[
                (super::file::FDSAFE_O_CREAT, MqFlags::CREATE),
                (super::file::FDSAFE_O_EXCL, MqFlags::EXCLUSIVE),
                (super::FDSAFE_NONBLOCK, MqFlags::NONBLOCK),
                (super::file::FDSAFE_O_CLOEXEC, MqFlags::empty()),
            ],
            "mq_open",
        )?;
        flags.set(MqFlags::READ, read);
        flags.set(MqFlags::WRITE, write);
        let out = Out::new(handle_out, "handle_out")?;
        let attr = read_opt(attr).map(|a| (a.max_messages, a.message_size));
        out.write(handles::insert(Box::new(MessageQueue::open(name, flags, mode, attr)?))?.0);
        Ok(0)
    })
}

/// Removes the queue `name`; it goes once the last descriptor for it is closed.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or bad name; `-ENOENT`, `-EACCES`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_unlink(name: *const c_char) -> c_int {
    call("fdsafe_mq_unlink", || {
        MessageQueue::unlink(name_arg(name)?)?;
        Ok(0)
    })
}

/// Sends `len` bytes from `msg` with `priority` (0 lowest, below 32768); waits while the
/// queue is full unless non-blocking. `timeout_ns` >= 0 limits the wait (relative, in
/// nanoseconds): `-ETIMEDOUT` when it passes; negative waits without limit.
///
/// Errors: `-EBADF` (also for a queue not opened for writing); `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for NULL `msg` with `len > 0` or an absurd `len`; `-EMSGSIZE`
/// (longer than the queue's message size); `-EINVAL` (priority too high); `-EAGAIN`;
/// `-ETIMEDOUT`; `-EINTR`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_send(handle: fdsafe_handle, msg: *const c_void, len: usize, priority: u32, timeout_ns: i64) -> c_int {
    call("fdsafe_mq_send", || {
        let msg = in_slice(msg.cast::<u8>(), len, "msg")?;
        get_as::<MessageQueue>(Handle(handle), "a message queue")?.send(msg, priority, timeout_arg(timeout_ns))?;
        Ok(0)
    })
}

/// Receives the oldest message of the highest priority into `buf` and returns its length;
/// writes its priority to `*priority_out` unless NULL. `len` must be at least the queue's
/// message size. Waits while the queue is empty unless non-blocking; `timeout_ns` >= 0 limits
/// the wait (relative nanoseconds, `-ETIMEDOUT`); negative waits without limit.
///
/// Errors: `-EBADF` (also for a queue not opened for reading); `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for NULL `buf` with `len > 0` or an absurd `len`; `-EMSGSIZE`
/// (`len` below the message size: nothing is taken); `-EAGAIN`; `-ETIMEDOUT`; `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_receive(
    handle: fdsafe_handle,
    buf: *mut c_void,
    len: usize,
    priority_out: *mut u32,
    timeout_ns: i64,
) -> i64 {
    call("fdsafe_mq_receive", || {
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        let prio = if priority_out.is_null() { None } else { Some(Out::new(priority_out, "priority_out")?) };
        let (n, p) = get_as::<MessageQueue>(Handle(handle), "a message queue")?.receive(buf, timeout_arg(timeout_ns))?;
        if let Some(out) = prio {
            out.write(p);
        }
        Ok(n as i64)
    })
}

/// Writes the queue's attributes to `*attr_out`.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for NULL.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_get_attr(handle: fdsafe_handle, attr_out: *mut fdsafe_mq_attr) -> c_int {
    call("fdsafe_mq_get_attr", || {
        let out = Out::new(attr_out, "attr_out")?;
        out.write(get_as::<MessageQueue>(Handle(handle), "a message queue")?.attributes()?.into());
        Ok(0)
    })
}

/// Sets the attributes that can change: only `attr->nonblocking` (0 or 1; the other fields
/// are ignored, as by `mq_setattr`). Writes the previous attributes to `*old_out` unless NULL.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL `attr` or
/// `nonblocking` other than 0 or 1. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_set_attr(handle: fdsafe_handle, attr: *const fdsafe_mq_attr, old_out: *mut fdsafe_mq_attr) -> c_int {
    call("fdsafe_mq_set_attr", || {
        let a = read_in(attr, "attr")?;
        if a.nonblocking > 1 {
            return Err(Error::invalid("nonblocking must be 0 or 1"));
        }
        let out = if old_out.is_null() { None } else { Some(Out::new(old_out, "old_out")?) };
        let old = get_as::<MessageQueue>(Handle(handle), "a message queue")?.set_nonblocking(a.nonblocking == 1)?;
        if let Some(out) = out {
            out.write(old.into());
        }
        Ok(0)
    })
}

/// Asks the kernel to send signal `signo` (with `value` as its integer value, code
/// `SI_MESGQ`) to this process when a message arrives in the queue while it is empty and no
/// thread is waiting in a receive. The registration is used up by that one notification;
/// register again to keep getting them. To fit an epoll loop, either put the queue itself in
/// the epoll set (it is readable while it has messages), or block `signo` and read it from a
/// signalfd in the set.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a signal number
/// outside 1..64; `-EBUSY` if a registration exists already (another process's, or this
/// one's: the kernel keeps one per queue). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_notify_signal(handle: fdsafe_handle, signo: c_int, value: c_int) -> c_int {
    call("fdsafe_mq_notify_signal", || {
        get_as::<MessageQueue>(Handle(handle), "a message queue")?.notify(Some((signo, value)))?;
        Ok(0)
    })
}

/// Removes this process's notification registration on the queue.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mq_notify_none(handle: fdsafe_handle) -> c_int {
    call("fdsafe_mq_notify_none", || {
        get_as::<MessageQueue>(Handle(handle), "a message queue")?.notify(None)?;
        Ok(0)
    })
}
