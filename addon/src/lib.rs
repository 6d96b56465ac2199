//! dragonfly-ts native addon. The modules below `error` are plain Rust with unit tests; `glue`
//! only converts N-API arguments and calls them. N-API symbols come from the node binary at load
//! time, so the glue is left out of `cargo test` builds, which link a normal executable.

pub mod error;
pub mod fileio;
pub mod hash;
pub mod memory;
pub mod poll;
pub mod receive;
pub mod sendfile;
pub mod threads;

#[cfg(not(test))]
mod args;
#[cfg(not(test))]
mod glue;
#[cfg(not(test))]
mod jobs;
#[cfg(not(test))]
mod napi;

#[cfg(test)]
mod test_util;
