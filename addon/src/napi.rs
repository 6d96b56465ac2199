//! The few Node-API declarations this addon uses, written by hand because the napi crates are not
//! reachable offline. Signatures follow node_api.h / js_native_api.h (N-API version 8). The symbols
//! are left undefined in the .node file and resolve against the node binary when it is loaded.

#![allow(non_camel_case_types, dead_code)]

use crate::error::{Code, OpError, OpResult};
use std::ffi::{c_char, c_void, CStr};
use std::ptr;

#[repr(C)]
pub struct Opaque {
    _private: [u8; 0],
}
pub type napi_env = *mut Opaque;
pub type napi_value = *mut Opaque;
pub type napi_callback_info = *mut Opaque;
pub type napi_deferred = *mut Opaque;
pub type napi_ref = *mut Opaque;
pub type napi_async_work = *mut Opaque;
pub type napi_threadsafe_function = *mut Opaque;
pub type napi_status = i32;

pub const NAPI_OK: napi_status = 0;
pub const NAPI_TSFN_BLOCKING: i32 = 1;
pub const NAPI_TSFN_RELEASE: i32 = 0;
pub const NAPI_TSFN_ABORT: i32 = 1;
pub const NAPI_UNDEFINED: i32 = 0;
pub const NAPI_NULL: i32 = 1;
pub const NAPI_NUMBER: i32 = 3;
pub const NAPI_STRING: i32 = 4;
pub const NAPI_EXTERNAL: i32 = 8;
pub const NAPI_INT32_ARRAY: i32 = 5;

pub type napi_callback = Option<unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value>;
pub type napi_finalize = Option<unsafe extern "C" fn(napi_env, *mut c_void, *mut c_void)>;
pub type napi_async_execute_callback = Option<unsafe extern "C" fn(napi_env, *mut c_void)>;
pub type napi_async_complete_callback = Option<unsafe extern "C" fn(napi_env, napi_status, *mut c_void)>;
pub type napi_threadsafe_function_call_js =
    Option<unsafe extern "C" fn(napi_env, napi_value, *mut c_void, *mut c_void)>;

#[repr(C)]
pub struct napi_type_tag {
    pub lower: u64,
    pub upper: u64,
}

#[rustfmt::skip]
extern "C" {
    pub fn napi_create_function(env: napi_env, name: *const c_char, len: usize, cb: napi_callback, data: *mut c_void, result: *mut napi_value) -> napi_status;
    pub fn napi_get_cb_info(env: napi_env, info: napi_callback_info, argc: *mut usize, argv: *mut napi_value, this_arg: *mut napi_value, data: *mut *mut c_void) -> napi_status;
    pub fn napi_create_object(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_set_named_property(env: napi_env, object: napi_value, name: *const c_char, value: napi_value) -> napi_status;
    pub fn napi_typeof(env: napi_env, value: napi_value, result: *mut i32) -> napi_status;
    pub fn napi_get_value_bool(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_undefined(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_get_boolean(env: napi_env, value: bool, result: *mut napi_value) -> napi_status;
    pub fn napi_create_uint32(env: napi_env, value: u32, result: *mut napi_value) -> napi_status;
    pub fn napi_create_double(env: napi_env, value: f64, result: *mut napi_value) -> napi_status;
    pub fn napi_get_value_double(env: napi_env, value: napi_value, result: *mut f64) -> napi_status;
    pub fn napi_create_string_utf8(env: napi_env, s: *const c_char, len: usize, result: *mut napi_value) -> napi_status;
    pub fn napi_get_value_string_utf8(env: napi_env, value: napi_value, buf: *mut c_char, bufsize: usize, result: *mut usize) -> napi_status;
    pub fn napi_get_buffer_info(env: napi_env, value: napi_value, data: *mut *mut c_void, len: *mut usize) -> napi_status;
    pub fn napi_get_typedarray_info(env: napi_env, value: napi_value, kind: *mut i32, len: *mut usize, data: *mut *mut c_void, arraybuffer: *mut napi_value, byte_offset: *mut usize) -> napi_status;
    pub fn napi_create_error(env: napi_env, code: napi_value, msg: napi_value, result: *mut napi_value) -> napi_status;
    pub fn napi_throw(env: napi_env, error: napi_value) -> napi_status;
    pub fn napi_is_exception_pending(env: napi_env, result: *mut bool) -> napi_status;
    pub fn napi_create_promise(env: napi_env, deferred: *mut napi_deferred, promise: *mut napi_value) -> napi_status;
    pub fn napi_resolve_deferred(env: napi_env, deferred: napi_deferred, value: napi_value) -> napi_status;
    pub fn napi_reject_deferred(env: napi_env, deferred: napi_deferred, value: napi_value) -> napi_status;
    pub fn napi_create_reference(env: napi_env, value: napi_value, refcount: u32, result: *mut napi_ref) -> napi_status;
    pub fn napi_delete_reference(env: napi_env, reference: napi_ref) -> napi_status;
    pub fn napi_create_external(env: napi_env, data: *mut c_void, finalize: napi_finalize, hint: *mut c_void, result: *mut napi_value) -> napi_status;
    pub fn napi_get_value_external(env: napi_env, value: napi_value, result: *mut *mut c_void) -> napi_status;
    pub fn napi_type_tag_object(env: napi_env, value: napi_value, tag: *const napi_type_tag) -> napi_status;
    pub fn napi_check_object_type_tag(env: napi_env, value: napi_value, tag: *const napi_type_tag, result: *mut bool) -> napi_status;
    pub fn napi_create_async_work(env: napi_env, resource: napi_value, resource_name: napi_value, execute: napi_async_execute_callback, complete: napi_async_complete_callback, data: *mut c_void, result: *mut napi_async_work) -> napi_status;
    pub fn napi_queue_async_work(env: napi_env, work: napi_async_work) -> napi_status;
    pub fn napi_delete_async_work(env: napi_env, work: napi_async_work) -> napi_status;
    pub fn napi_create_threadsafe_function(env: napi_env, func: napi_value, resource: napi_value, resource_name: napi_value, max_queue: usize, initial_threads: usize, finalize_data: *mut c_void, finalize: napi_finalize, context: *mut c_void, call_js: napi_threadsafe_function_call_js, result: *mut napi_threadsafe_function) -> napi_status;
    pub fn napi_call_threadsafe_function(func: napi_threadsafe_function, data: *mut c_void, mode: i32) -> napi_status;
    pub fn napi_release_threadsafe_function(func: napi_threadsafe_function, mode: i32) -> napi_status;
}

/// Turns a failed N-API status into an error; these mean a bug or an engine shutting down, not bad
/// input, which is checked before calling.
pub fn check(status: napi_status, what: &str) -> OpResult<()> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(OpError::new(Code::Internal, format!("{what}: N-API call failed with status {status}")))
    }
}

pub unsafe fn undefined(env: napi_env) -> napi_value {
    let mut v = ptr::null_mut();
    napi_get_undefined(env, &mut v);
    v
}

pub unsafe fn string(env: napi_env, s: &str) -> OpResult<napi_value> {
    let mut v = ptr::null_mut();
    check(napi_create_string_utf8(env, s.as_ptr().cast(), s.len(), &mut v), "create string")?;
    Ok(v)
}

pub unsafe fn double(env: napi_env, x: f64) -> OpResult<napi_value> {
    let mut v = ptr::null_mut();
    check(napi_create_double(env, x, &mut v), "create number")?;
    Ok(v)
}

pub unsafe fn boolean(env: napi_env, b: bool) -> OpResult<napi_value> {
    let mut v = ptr::null_mut();
    check(napi_get_boolean(env, b, &mut v), "get boolean")?;
    Ok(v)
}

pub unsafe fn type_of(env: napi_env, v: napi_value) -> i32 {
    let mut t = -1;
    if napi_typeof(env, v, &mut t) != NAPI_OK {
        return -1;
    }
    t
}

/// A JS Error with `code` and, for syscall failures, `errno` ('EBADF'), like Node's own errors.
pub unsafe fn error_value(env: napi_env, e: &OpError) -> napi_value {
    let mut err = ptr::null_mut();
    let (Ok(code), Ok(msg)) = (string(env, e.code.as_str()), string(env, &e.message)) else {
        return undefined(env);
    };
    if napi_create_error(env, code, msg, &mut err) != NAPI_OK {
        return undefined(env);
    }
    if let Some(name) = e.errno_name() {
        if let Ok(v) = string(env, name) {
            napi_set_named_property(env, err, c"errno".as_ptr(), v);
        }
    }
    err
}

pub unsafe fn throw(env: napi_env, e: &OpError) {
    let mut pending = false;
    napi_is_exception_pending(env, &mut pending);
    if !pending {
        napi_throw(env, error_value(env, e));
    }
}

pub unsafe fn export(env: napi_env, exports: napi_value, name: &CStr, cb: napi_callback) -> OpResult<()> {
    let mut f = ptr::null_mut();
    check(napi_create_function(env, name.as_ptr(), usize::MAX, cb, ptr::null_mut(), &mut f), "create function")?;
    check(napi_set_named_property(env, exports, name.as_ptr(), f), "set export")
}
