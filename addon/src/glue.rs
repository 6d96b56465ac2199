//! The JS-facing functions: check and convert arguments, call the pure Rust code, convert back.
//! addon/native.ts wraps these into the Addon interface of addon/CONTRACT.md.

use crate::args::{call, SendPtr, HASHER_TAG};
use crate::error::{Code, OpError, OpResult};
use crate::hash::{crc32, hash_file_range, update_from_file, StreamHasher};
use crate::jobs::{panic_error, queue_work, spawn_thread, Out};
use crate::napi::*;
use crate::{fileio, receive, sendfile};
use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::catch_unwind;
use std::ptr;
use std::sync::atomic::AtomicI32;
use std::time::Duration;

macro_rules! js_fn {
    ($name:ident, $op:literal, |$a:ident| $body:expr) => {
        unsafe extern "C" fn $name(env: napi_env, info: napi_callback_info) -> napi_value {
            call(env, info, $op, |$a| unsafe { $body })
        }
    };
}

js_fn!(js_crc32, "crc32", |a| {
    let (data, len) = a.bytes(0, "data")?;
    let initial = match type_of(a.env, a.argv[1]) {
        NAPI_UNDEFINED => 0,
        _ => match a.number(1) {
            Some(x) if x.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&x) => x as u32,
            _ => {
                return Err(
                    a.invalid(format!("initial must be an unsigned 32-bit integer, got {}", a.describe(a.argv[1])))
                )
            }
        },
    };
    let slice = if len == 0 { &[][..] } else { std::slice::from_raw_parts(data, len) };
    let mut v = ptr::null_mut();
    check(napi_create_uint32(a.env, crc32(initial, slice), &mut v), "crc32")?;
    Ok(v)
});

unsafe extern "C" fn finalize_hasher(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data as *mut Option<StreamHasher>));
}

js_fn!(js_hasher_create, "createHasher", |a| {
    let algorithm = a.algorithm(0, false)?;
    let cell = Box::into_raw(Box::new(Some(StreamHasher::new(algorithm))));
    let mut v = ptr::null_mut();
    if let Err(e) =
        check(napi_create_external(a.env, cell.cast(), Some(finalize_hasher), ptr::null_mut(), &mut v), "createHasher")
    {
        drop(Box::from_raw(cell));
        return Err(e);
    }
    check(napi_type_tag_object(a.env, v, &HASHER_TAG), "createHasher")?;
    Ok(v)
});

fn finished(op: &str) -> OpError {
    OpError::new(Code::HasherFinished, format!("{op}: hasher already finished by digestHex()"))
}

js_fn!(js_hasher_update, "hasher.update", |a| {
    let hasher = a.hasher(0)?.as_mut().ok_or_else(|| finished(a.op))?;
    let (data, len) = a.bytes(1, "data")?;
    if len > 0 {
        hasher.update(std::slice::from_raw_parts(data, len));
    }
    Ok(undefined(a.env))
});

js_fn!(js_hasher_digest, "hasher.digestHex", |a| {
    let hasher = a.hasher(0)?.take().ok_or_else(|| finished(a.op))?;
    string(a.env, &hasher.finish())
});

js_fn!(js_hasher_update_from_file, "updateHasherFromFile", |a| {
    let (fd, offset, length) = (a.fd(1, "fd")?, a.size(2, "offset")?, a.size(3, "length")?);
    let hasher = a.hasher(0)?.as_mut().ok_or_else(|| finished(a.op))?;
    update_from_file(a.op, hasher, fd, offset, length)?;
    Ok(undefined(a.env))
});

js_fn!(js_hash_file_range, "hashFileRange", |a| {
    let (fd, offset, length) = (a.fd(0, "fd")?, a.size(1, "offset")?, a.size(2, "length")?);
    let algorithm = a.algorithm(3, true)?;
    queue_work(a.env, a.op, &[], Box::new(move || hash_file_range(fd, offset, length, algorithm).map(Out::Str)))
});

js_fn!(js_hash_file_range_sync, "hashFileRangeSync", |a| {
    let (fd, offset, length) = (a.fd(0, "fd")?, a.size(1, "offset")?, a.size(2, "length")?);
    let algorithm = a.algorithm(3, true)?;
    let mut hasher = StreamHasher::new(algorithm);
    update_from_file(a.op, &mut hasher, fd, offset, length)?;
    string(a.env, &hasher.finish())
});

js_fn!(js_write_at, "writeAt", |a| {
    let fd = a.fd(0, "fd")?;
    let (data, len) = a.bytes(1, "data")?;
    let position = a.size(2, "position")?;
    let bytes = SendPtr(data, len);
    queue_work(
        a.env,
        a.op,
        &[a.argv[1]],
        Box::new(move || {
            let (data, len) = bytes.parts();
            let slice = if len == 0 { &[][..] } else { std::slice::from_raw_parts(data as *const u8, len) };
            fileio::write_at(fd, slice, position).map(|n| Out::Num(n as f64))
        }),
    )
});

js_fn!(js_allocate, "allocate", |a| {
    let (fd, offset, length) = (a.fd(0, "fd")?, a.size(1, "offset")?, a.size(2, "length")?);
    queue_work(a.env, a.op, &[], Box::new(move || fileio::allocate(fd, offset, length).map(Out::Bool)))
});

fn dup(op: &str, fd: RawFd, name: &str) -> OpResult<OwnedFd> {
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if r < 0 {
        return Err(OpError::last_os(&format!("{op}: dup of {name} {fd}")));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

// sendFile(socketFd, fileFd, offset, length, abortFlag: Int32Array, idleTimeoutMs)
js_fn!(js_send_file, "sendFile", |a| {
    let (sock_fd, file_fd) = (a.fd(0, "socket fd")?, a.fd(1, "fileFd")?);
    let (offset, length) = (a.size(2, "offset")?, a.size(3, "length")?);
    let flag = abort_flag(a, 4)?;
    let idle_ms = a.size(5, "idleTimeoutMs")?;
    // Private copies of both descriptors: if JS closes the socket or file mid-transfer, the numbers
    // could be reused by unrelated files, and this thread must never write into those.
    let sock = dup(a.op, sock_fd, "socket fd")?;
    let file = dup(a.op, file_fd, "fileFd")?;
    spawn_thread(
        a.env,
        a.op,
        &[a.argv[4]],
        Box::new(move || {
            let abort = &*flag.parts().0;
            let idle = Duration::from_millis(idle_ms);
            sendfile::send_file(sock.as_raw_fd(), file.as_raw_fd(), offset, length, abort, idle)
                .map(|n| Out::Num(n as f64))
        }),
    )
});

/// The Int32Array JS stores a stop reason into (addon/native.ts), shared with the transfer thread;
/// its length rides along, so a receive with a second slot can publish its progress there.
unsafe fn abort_flag(a: &crate::args::Args, i: usize) -> OpResult<SendPtr<AtomicI32>> {
    let (mut kind, mut count, mut data) = (-1, 0usize, ptr::null_mut());
    let flag_ok =
        napi_get_typedarray_info(a.env, a.argv[i], &mut kind, &mut count, &mut data, ptr::null_mut(), ptr::null_mut())
            == NAPI_OK
            && kind == NAPI_INT32_ARRAY
            && count >= 1;
    if !flag_ok {
        return Err(a.invalid("abort flag must be an Int32Array of length >= 1".into()));
    }
    Ok(SendPtr(data as *mut AtomicI32, count))
}

// receiveToFile(socketFd, fileFd, position, length, prefix: Uint8Array, abortFlag: Int32Array, idleTimeoutMs,
//               keepOpen?: boolean): with keepOpen the result also says whether the socket is still open.
//               An abortFlag of two slots gets the bytes on disk in its second one as they land.
js_fn!(js_receive_to_file, "receiveToFile", |a| {
    let (sock_fd, file_fd) = (a.fd(0, "socket fd")?, a.fd(1, "fileFd")?);
    let (position, length) = (a.size(2, "position")?, a.size(3, "length")?);
    let (data, len) = a.bytes(4, "prefix")?;
    // A copy: the prefix is at most one socket read, and the thread then owns everything it touches.
    let prefix = if len == 0 { Vec::new() } else { std::slice::from_raw_parts(data, len).to_vec() };
    if prefix.len() as u64 > length {
        return Err(a.invalid(format!("prefix of {} bytes is longer than length {length}", prefix.len())));
    }
    let flag = abort_flag(a, 5)?;
    let idle_ms = a.size(6, "idleTimeoutMs")?;
    let keep_open = a.optional_bool(7, "keepOpen")?;
    // Private copies, as for sendFile: a descriptor number JS closes may be reused by another file.
    let sock = dup(a.op, sock_fd, "socket fd")?;
    let file = dup(a.op, file_fd, "fileFd")?;
    // The dup shares the open file description: this only restates what Node already set, but a
    // blocking read would make the thread deaf to the abort flag.
    let flags = libc::fcntl(sock.as_raw_fd(), libc::F_GETFL);
    if flags < 0 || libc::fcntl(sock.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
        return Err(OpError::last_os("receiveToFile: fcntl O_NONBLOCK"));
    }
    spawn_thread(
        a.env,
        a.op,
        &[a.argv[5]],
        Box::new(move || {
            let (slots, count) = flag.parts();
            let abort = &*slots;
            let progress = if count >= 2 { Some(&*slots.add(1)) } else { None };
            let idle = Duration::from_millis(idle_ms);
            let got =
                receive::receive_to_file(sock.as_raw_fd(), file.as_raw_fd(), position, length, &prefix, abort, progress, idle)?;
            Ok(if keep_open { Out::ReceivedKept(got, receive::still_open(sock.as_raw_fd())) } else { Out::Received(got) })
        }),
    )
});

/// Entry point Node looks up when loading the .node file (context-aware, so worker threads work).
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    type Entry = (&'static std::ffi::CStr, unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value);
    let table: [Entry; 11] = [
        (c"crc32", js_crc32),
        (c"hasherCreate", js_hasher_create),
        (c"hasherUpdate", js_hasher_update),
        (c"hasherDigest", js_hasher_digest),
        (c"hasherUpdateFromFile", js_hasher_update_from_file),
        (c"hashFileRange", js_hash_file_range),
        (c"hashFileRangeSync", js_hash_file_range_sync),
        (c"writeAt", js_write_at),
        (c"allocate", js_allocate),
        (c"sendFile", js_send_file),
        (c"receiveToFile", js_receive_to_file),
    ];
    // Once per process (this runs again in each worker thread that loads the addon).
    static TUNE: std::sync::Once = std::sync::Once::new();
    TUNE.call_once(|| {
        crate::memory::tune_malloc();
    });
    let result = catch_unwind(|| {
        for (name, f) in table {
            export(env, exports, name, Some(f))?;
        }
        Ok::<(), OpError>(())
    });
    match result {
        Ok(Ok(())) => exports,
        Ok(Err(e)) => {
            throw(env, &e);
            ptr::null_mut()
        }
        Err(p) => {
            throw(env, &panic_error("load", p));
            ptr::null_mut()
        }
    }
}

/// Version of N-API this addon is written against (type tags need 8).
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}
