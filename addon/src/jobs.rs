//! Running a Rust closure off the JS thread and settling a promise with its result: short jobs on
//! libuv's pool (async work), long ones (sendfile to a possibly slow client) on the transfer
//! threads (threads.rs) so they never hold a pool thread that fs calls need.

use crate::error::{Code, OpError, OpResult};
use crate::napi::*;
use std::any::Any;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

pub enum Out {
    Str(String),
    Num(f64),
    Bool(bool),
    /// receiveToFile's `{ bytes, crc32 }`.
    Received(crate::receive::Received),
    /// A kept-alive receiveToFile: `{ bytes, crc32, open }`, open from receive::still_open.
    ReceivedKept(crate::receive::Received, bool),
}

pub type Task = Box<dyn FnOnce() -> OpResult<Out> + Send>;

pub fn panic_error(op: &str, payload: Box<dyn Any + Send>) -> OpError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    OpError::new(Code::Internal, format!("{op}: internal error in the native addon: {what}"))
}

fn run_caught(op: &str, task: Task) -> OpResult<Out> {
    catch_unwind(AssertUnwindSafe(task)).unwrap_or_else(|p| Err(panic_error(op, p)))
}

unsafe fn to_value(env: napi_env, out: Out) -> OpResult<napi_value> {
    match out {
        Out::Str(s) => string(env, &s),
        Out::Num(n) => double(env, n),
        Out::Bool(b) => boolean(env, b),
        Out::Received(r) => {
            let mut obj = ptr::null_mut();
            check(napi_create_object(env, &mut obj), "create object")?;
            let mut crc = ptr::null_mut();
            check(napi_create_uint32(env, r.crc32, &mut crc), "create number")?;
            check(napi_set_named_property(env, obj, c"bytes".as_ptr(), double(env, r.bytes as f64)?), "set bytes")?;
            check(napi_set_named_property(env, obj, c"crc32".as_ptr(), crc), "set crc32")?;
            Ok(obj)
        }
        Out::ReceivedKept(r, open) => {
            let obj = to_value(env, Out::Received(r))?;
            check(napi_set_named_property(env, obj, c"open".as_ptr(), boolean(env, open)?), "set open")?;
            Ok(obj)
        }
    }
}

unsafe fn settle(env: napi_env, deferred: napi_deferred, result: OpResult<Out>) {
    if deferred.is_null() {
        return;
    }
    match result.and_then(|out| to_value(env, out)) {
        Ok(v) => napi_resolve_deferred(env, deferred, v),
        Err(e) => napi_reject_deferred(env, deferred, error_value(env, &e)),
    };
}

/// References keep buffers reachable while another thread reads them: without one, GC could free
/// a Uint8Array that only the pending job still points into.
unsafe fn keep(env: napi_env, values: &[napi_value]) -> OpResult<Vec<napi_ref>> {
    let mut refs = Vec::with_capacity(values.len());
    for &v in values {
        let mut r = ptr::null_mut();
        if let Err(e) = check(napi_create_reference(env, v, 1, &mut r), "create reference") {
            release(env, &mut refs);
            return Err(e);
        }
        refs.push(r);
    }
    Ok(refs)
}

unsafe fn release(env: napi_env, refs: &mut Vec<napi_ref>) {
    for r in refs.drain(..) {
        napi_delete_reference(env, r);
    }
}

struct Work {
    op: &'static str,
    deferred: napi_deferred,
    work: napi_async_work,
    refs: Vec<napi_ref>,
    task: Option<Task>,
    result: Option<OpResult<Out>>,
}

/// Runs `task` on libuv's threadpool; returns the promise it settles.
pub unsafe fn queue_work(
    env: napi_env,
    op: &'static str,
    keep_alive: &[napi_value],
    task: Task,
) -> OpResult<napi_value> {
    let name = string(env, op)?;
    let refs = keep(env, keep_alive)?;
    let job = Box::into_raw(Box::new(Work {
        op,
        deferred: ptr::null_mut(),
        work: ptr::null_mut(),
        refs,
        task: Some(task),
        result: None,
    }));
    let mut work = ptr::null_mut();
    let created =
        napi_create_async_work(env, ptr::null_mut(), name, Some(execute), Some(complete), job.cast(), &mut work);
    if let Err(e) = check(created, "create async work") {
        let mut job = Box::from_raw(job);
        release(env, &mut job.refs);
        return Err(e);
    }
    (*job).work = work;
    let mut promise = ptr::null_mut();
    if let Err(e) = check(napi_create_promise(env, &mut (*job).deferred, &mut promise), "create promise") {
        let mut job = Box::from_raw(job);
        napi_delete_async_work(env, work);
        release(env, &mut job.refs);
        return Err(e);
    }
    if let Err(e) = check(napi_queue_async_work(env, work), "queue async work") {
        let mut job = Box::from_raw(job);
        napi_delete_async_work(env, work);
        release(env, &mut job.refs);
        settle(env, job.deferred, Err(e));
    }
    Ok(promise)
}

unsafe extern "C" fn execute(_env: napi_env, data: *mut c_void) {
    // Pool thread: no N-API calls allowed here.
    let job = &mut *(data as *mut Work);
    if let Some(task) = job.task.take() {
        job.result = Some(run_caught(job.op, task));
    }
}

unsafe extern "C" fn complete(env: napi_env, _status: napi_status, data: *mut c_void) {
    let mut job = Box::from_raw(data as *mut Work);
    if env.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        napi_delete_async_work(env, job.work);
        release(env, &mut job.refs);
        let op = job.op;
        let result =
            job.result.take().unwrap_or_else(|| Err(OpError::new(Code::Internal, format!("{op}: job was cancelled"))));
        settle(env, job.deferred, result);
    }));
}

struct ThreadCtx {
    deferred: napi_deferred,
    refs: Vec<napi_ref>,
    settled: bool,
}

struct Tsfn(napi_threadsafe_function);
// Thread-safe functions exist to be called from other threads.
unsafe impl Send for Tsfn {}
impl Tsfn {
    fn get(&self) -> napi_threadsafe_function {
        self.0
    }
}

/// Runs `task` on a transfer thread; the result comes back to the JS thread through a
/// thread-safe function, which also keeps the event loop alive until then.
pub unsafe fn spawn_thread(
    env: napi_env,
    op: &'static str,
    keep_alive: &[napi_value],
    task: Task,
) -> OpResult<napi_value> {
    let name = string(env, op)?;
    let refs = keep(env, keep_alive)?;
    let ctx = Box::into_raw(Box::new(ThreadCtx { deferred: ptr::null_mut(), refs, settled: false }));
    let mut tsfn = ptr::null_mut();
    let created = napi_create_threadsafe_function(
        env,
        ptr::null_mut(),
        ptr::null_mut(),
        name,
        0,
        1,
        ctx.cast(),
        Some(finalize_ctx),
        ctx.cast(),
        Some(call_js),
        &mut tsfn,
    );
    if let Err(e) = check(created, "create threadsafe function") {
        let mut ctx = Box::from_raw(ctx);
        release(env, &mut ctx.refs);
        return Err(e);
    }
    // From here on the thread-safe function owns ctx; finalize_ctx frees it after the last release.
    let mut promise = ptr::null_mut();
    if let Err(e) = check(napi_create_promise(env, &mut (*ctx).deferred, &mut promise), "create promise") {
        napi_release_threadsafe_function(tsfn, NAPI_TSFN_ABORT);
        return Err(e);
    }
    let handle = Tsfn(tsfn);
    let spawned = crate::threads::transfers().run(Box::new(move || {
        let result = run_caught(op, task);
        // Told once the thread is free again (threads::Done).
        Box::new(move || {
            let data = Box::into_raw(Box::new(result));
            if napi_call_threadsafe_function(handle.get(), data.cast(), NAPI_TSFN_BLOCKING) != NAPI_OK {
                // The environment is closing; nobody is left to tell.
                drop(Box::from_raw(data));
            }
            napi_release_threadsafe_function(handle.get(), NAPI_TSFN_RELEASE);
        })
    }));
    if let Err(e) = spawned {
        // The closure, with whatever the task owned (dup'ed fds), was dropped by spawn.
        (*ctx).settled = true;
        release(env, &mut (*ctx).refs);
        settle(env, (*ctx).deferred, Err(OpError::new(Code::Internal, format!("{op}: cannot start a thread: {e}"))));
        napi_release_threadsafe_function(tsfn, NAPI_TSFN_RELEASE);
    }
    Ok(promise)
}

unsafe extern "C" fn call_js(env: napi_env, _js: napi_value, context: *mut c_void, data: *mut c_void) {
    let result = Box::from_raw(data as *mut OpResult<Out>);
    if env.is_null() {
        return;
    }
    let ctx = &mut *(context as *mut ThreadCtx);
    if ctx.settled {
        return;
    }
    ctx.settled = true;
    let _ = catch_unwind(AssertUnwindSafe(|| {
        release(env, &mut ctx.refs);
        settle(env, ctx.deferred, *result);
    }));
}

unsafe extern "C" fn finalize_ctx(env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    let mut ctx = Box::from_raw(data as *mut ThreadCtx);
    if !env.is_null() {
        release(env, &mut ctx.refs);
    }
}
