//! Generates `include/fdsafe.h` from the Rust sources with cbindgen.
//!
//! The header is committed; `make test` fails when the committed copy differs from what
//! the sources generate, so the file here is only rewritten when its content changes.

use std::{env, fs, path::Path, path::PathBuf};

#[path = "build-support/header_layout.rs"]
mod header_layout;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();

    // No link arguments here: the crate builds only a static archive, and the Makefile links
    // libfdsafe.so from it with the version script libfdsafe.map (one node per release), which
    // rustc's own version script for a cdylib leaves no room for.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build-support");

    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let (a, b, c): (u32, u32, u32) = (major.parse().unwrap(), minor.parse().unwrap(), patch.parse().unwrap());
    let version_macros = format!(
        "\n/** Version of the header, from Cargo.toml. Compare with fdsafe_version_number() at run time. */\n\
         #define FDSAFE_VERSION_MAJOR {a}\n#define FDSAFE_VERSION_MINOR {b}\n#define FDSAFE_VERSION_PATCH {c}\n\
         /** MAJOR * 10000 + MINOR * 100 + PATCH, for `#if` comparisons. */\n\
         #define FDSAFE_VERSION_NUMBER {}\n#define FDSAFE_VERSION_STRING \"{a}.{b}.{c}\"\n",
        a * 10000 + b * 100 + c
    );
    config.after_includes = Some(version_macros.clone());

    let header = match cbindgen::Builder::new().with_crate(&root).with_config(config).generate() {
        Ok(bindings) => {
            let mut out = Vec::new();
            bindings.write(&mut out);
            out
        }
        Err(err) => panic!("cbindgen could not generate include/fdsafe.h: {err}"),
    };
    let header = arrange_as_manual(&header, &version_macros, &root.join("src").join("ffi"));
    let path = root.join("include").join("fdsafe.h");
    if fs::read(&path).ok().as_deref() != Some(&header[..]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, header).expect("write include/fdsafe.h");
    }
}

/// cbindgen writes constants, then types, then functions; the header is read as a manual, so
/// its items are regrouped by section (see build-support/header_layout.rs).
fn arrange_as_manual(header: &[u8], version_macros: &str, ffi_dir: &Path) -> Vec<u8> {
    let text = String::from_utf8(header.to_vec()).expect("cbindgen writes UTF-8");
    let (arranged, warnings) = header_layout::arrange(&text, version_macros, ffi_dir);
    for warning in warnings {
        println!("cargo:warning={warning}");
    }
    arranged.into_bytes()
}
