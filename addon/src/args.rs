//! Argument conversion for the exported functions: every check that makes a bad JS value an
//! InvalidArgument error instead of undefined behaviour lives here.

use crate::error::{OpError, OpResult};
use crate::hash::{Algorithm, StreamHasher};
use crate::jobs::panic_error;
use crate::napi::*;
use std::ffi::c_void;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

const MAX_ARGS: usize = 8;
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Marks externals made by createHasher so a foreign external can never be cast to our type.
pub const HASHER_TAG: napi_type_tag = napi_type_tag { lower: 0x6466_2d61_6464_6f6e, upper: 0x6861_7368_6572_0001 };

pub struct Args {
    pub env: napi_env,
    pub op: &'static str,
    pub argv: [napi_value; MAX_ARGS],
}

impl Args {
    pub unsafe fn new(env: napi_env, info: napi_callback_info, op: &'static str) -> OpResult<Args> {
        let mut argc = MAX_ARGS;
        let mut argv = [ptr::null_mut(); MAX_ARGS];
        check(napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()), op)?;
        // N-API fills missing arguments with undefined, so every slot below MAX_ARGS is valid.
        Ok(Args { env, op, argv })
    }

    pub fn invalid(&self, what: String) -> OpError {
        OpError::invalid(format!("{}: {what}", self.op))
    }

    pub unsafe fn describe(&self, v: napi_value) -> String {
        match type_of(self.env, v) {
            NAPI_NUMBER => {
                let mut x = 0.0;
                napi_get_value_double(self.env, v, &mut x);
                match x {
                    f64::INFINITY => "Infinity".into(),
                    f64::NEG_INFINITY => "-Infinity".into(),
                    _ => format!("{x}"),
                }
            }
            0 => "undefined".into(),
            1 => "null".into(),
            2 => "boolean".into(),
            4 => "string".into(),
            5 => "symbol".into(),
            7 => "function".into(),
            9 => "bigint".into(),
            _ => "object".into(),
        }
    }

    pub unsafe fn number(&self, i: usize) -> Option<f64> {
        let mut x = 0.0;
        (napi_get_value_double(self.env, self.argv[i], &mut x) == NAPI_OK).then_some(x)
    }

    pub unsafe fn fd(&self, i: usize, name: &str) -> OpResult<RawFd> {
        match self.number(i) {
            Some(x) if x.fract() == 0.0 && (0.0..=i32::MAX as f64).contains(&x) => Ok(x as RawFd),
            _ => {
                Err(self.invalid(format!("{name} must be a non-negative integer, got {}", self.describe(self.argv[i]))))
            }
        }
    }

    pub unsafe fn size(&self, i: usize, name: &str) -> OpResult<u64> {
        match self.number(i) {
            Some(x) if x.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&x) => Ok(x as u64),
            _ => Err(self
                .invalid(format!("{name} must be a non-negative safe integer, got {}", self.describe(self.argv[i])))),
        }
    }

    /// undefined is false; anything else but a boolean is refused.
    pub unsafe fn optional_bool(&self, i: usize, name: &str) -> OpResult<bool> {
        if type_of(self.env, self.argv[i]) == NAPI_UNDEFINED {
            return Ok(false);
        }
        let mut b = false;
        if napi_get_value_bool(self.env, self.argv[i], &mut b) != NAPI_OK {
            return Err(self.invalid(format!("{name} must be a boolean, got {}", self.describe(self.argv[i]))));
        }
        Ok(b)
    }

    /// Any ArrayBufferView; the pointer stays valid while the view is referenced.
    pub unsafe fn bytes(&self, i: usize, name: &str) -> OpResult<(*mut u8, usize)> {
        let (mut data, mut len) = (ptr::null_mut(), 0usize);
        if napi_get_buffer_info(self.env, self.argv[i], &mut data, &mut len) != NAPI_OK {
            return Err(self.invalid(format!("{name} must be a Uint8Array, got {}", self.describe(self.argv[i]))));
        }
        Ok((data.cast(), len))
    }

    pub unsafe fn algorithm(&self, i: usize, allow_crc32: bool) -> OpResult<Algorithm> {
        let mut buf = [0u8; 16];
        let mut len = 0usize;
        let ok = type_of(self.env, self.argv[i]) == NAPI_STRING
            && napi_get_value_string_utf8(self.env, self.argv[i], buf.as_mut_ptr().cast(), buf.len(), &mut len)
                == NAPI_OK;
        let parsed = if ok { std::str::from_utf8(&buf[..len]).ok().and_then(Algorithm::parse) } else { None };
        match parsed {
            Some(Algorithm::Crc32) if !allow_crc32 => {}
            Some(a) => return Ok(a),
            None => {}
        }
        let expected = if allow_crc32 { "'sha256', 'sha512' or 'crc32'" } else { "'sha256' or 'sha512'" };
        let got = if ok { format!("'{}'", String::from_utf8_lossy(&buf[..len])) } else { self.describe(self.argv[i]) };
        Err(self.invalid(format!("algorithm must be {expected}, got {got}")))
    }

    /// The external's data lives until its finalizer runs, which cannot happen during this call.
    pub unsafe fn hasher<'h>(&self, i: usize) -> OpResult<&'h mut Option<StreamHasher>> {
        let v = self.argv[i];
        let mut tagged = false;
        let is_ours = type_of(self.env, v) == NAPI_EXTERNAL
            && napi_check_object_type_tag(self.env, v, &HASHER_TAG, &mut tagged) == NAPI_OK
            && tagged;
        let mut data: *mut c_void = ptr::null_mut();
        if !is_ours || napi_get_value_external(self.env, v, &mut data) != NAPI_OK || data.is_null() {
            return Err(self.invalid("hasher must be a handle returned by hasherCreate".into()));
        }
        Ok(&mut *(data as *mut Option<StreamHasher>))
    }
}

/// Raw pointers into JS memory cross to the worker thread; the job holds a reference to the owner.
pub struct SendPtr<T>(pub *mut T, pub usize);
unsafe impl<T> Send for SendPtr<T> {}
impl<T> SendPtr<T> {
    pub fn parts(&self) -> (*mut T, usize) {
        (self.0, self.1)
    }
}

/// Runs one exported function's body: errors and panics become JS exceptions, never an unwind into node.
pub fn call(
    env: napi_env,
    info: napi_callback_info,
    op: &'static str,
    f: impl FnOnce(&Args) -> OpResult<napi_value>,
) -> napi_value {
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { f(&Args::new(env, info, op)?) }));
    let err = match result {
        Ok(Ok(v)) => return v,
        Ok(Err(e)) => e,
        Err(p) => panic_error(op, p),
    };
    unsafe { throw(env, &err) };
    ptr::null_mut()
}
