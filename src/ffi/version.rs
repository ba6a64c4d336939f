//! The version of the library actually loaded, to compare with the header's
//! `FDSAFE_VERSION_*` macros (both come from Cargo.toml).

use std::ffi::c_char;

const fn parse(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let (mut value, mut i) = (0u32, 0);
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

const NUMBER: u32 = parse(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
    + parse(env!("CARGO_PKG_VERSION_MINOR")) * 100
    + parse(env!("CARGO_PKG_VERSION_PATCH"));

/// The loaded library's version as MAJOR * 10000 + MINOR * 100 + PATCH, the same scale as
/// `FDSAFE_VERSION_NUMBER`. A program built against a newer header than the library it runs
/// with can check `fdsafe_version_number() >= FDSAFE_VERSION_NUMBER`.
/// Errors: none. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_version_number() -> u32 {
    NUMBER
}

/// The loaded library's version as a static string such as `"0.1.0"`. Never NULL; never to be
/// freed. Errors: none. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
