//! Kino's build step: `cargo xtask site [--release]` writes the browser's half of Kino into the
//! workspace's `target/site`, which the `kino` server serves.
//!
//! 1. `cargo build -p frontend` for wasm32 (profile `wasm-release` with `--release`, else `dev`);
//! 2. wasm-bindgen, as a library pinned to the `wasm-bindgen` crate's exact version, writes
//!    `pkg/kino.js` and `pkg/kino_bg.wasm`;
//! 3. with `--release`, binaryen's `wasm-opt -Oz` (found on PATH; `scripts/ensure-tools.sh`
//!    installs it from the npm registry);
//! 4. `style/main.css` becomes `pkg/kino.css`, and `public/` is copied into the site root;
//! 5. every file in `pkg/` gets a brotli twin (`.br`), which the server sends to browsers that
//!    accept it.
//!
//! Steps 2–5 are skipped when the compiled WASM, the stylesheet and the mode are what the last run
//! built from, so a restart with nothing changed costs only cargo's own up-to-date check.
//! This replaces `cargo leptos build`, whose install alone took 16 minutes on a fresh machine;
//! `[[workspace.metadata.leptos]]` stays in Cargo.toml for whoever prefers `cargo leptos watch`.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The name the server's `LeptosOptions` expects (`/pkg/kino.js`, `/pkg/kino_bg.wasm`, `/pkg/kino.css`).
const OUTPUT_NAME: &str = "kino";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Written into the site's `pkg/` with the fingerprint of what it was built from.
const STAMP: &str = ".built-from";

const USAGE: &str = "usage: cargo xtask site [--release]
       cargo xtask wasm-size [--budget-kb N]   the size of the built pkg/kino_bg.wasm, raw and brotli";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("site") => match &args[1..] {
            [] => site(Mode::Dev),
            [flag] if flag == "--release" => site(Mode::Release),
            _ => Err(USAGE.into()),
        },
        Some("wasm-size") => match &args[1..] {
            [] => wasm_size(None),
            [flag, kb] if flag == "--budget-kb" => match kb.parse() {
                Ok(kb) => wasm_size(Some(kb)),
                Err(_) => Err(format!("--budget-kb takes a whole number, not {kb:?}").into()),
            },
            _ => Err(USAGE.into()),
        },
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Mode {
    Dev,
    Release,
}

impl Mode {
    fn profile(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Release => "wasm-release",
        }
    }

    /// The directory cargo names after the profile (`dev` builds land in `debug`).
    fn profile_dir(self) -> &'static str {
        match self {
            Mode::Dev => "debug",
            Mode::Release => "wasm-release",
        }
    }
}

/// Where things are: the workspace, cargo's target directory, the site root.
struct Paths {
    workspace: PathBuf,
    target: PathBuf,
    site: PathBuf,
}

impl Paths {
    fn find() -> Result<Self> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("xtask lives inside the workspace")?
            .to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => workspace.join(dir),
            None => workspace.join("target"),
        };
        // Always the workspace's own: `KINO_SITE_ROOT` says where a server serves from (another
        // build, say, in a benchmark), never where to build.
        let site = workspace.join("target/site");
        Ok(Self {
            workspace,
            target,
            site,
        })
    }

    fn pkg(&self) -> PathBuf {
        self.site.join("pkg")
    }

    /// The browser build's own target directory, inside cargo's: with its own lock, it can
    /// compile while the server builds in the main one (`scripts/build.sh` runs both at once,
    /// which keeps both cores busy through each build's single-threaded last crates).
    fn wasm_target(&self) -> PathBuf {
        self.target.join("wasm")
    }
}

fn site(mode: Mode) -> Result<()> {
    let paths = Paths::find()?;
    let started = Instant::now();
    build_wasm(&paths, mode)?;

    let wasm = paths
        .wasm_target()
        .join(WASM_TARGET)
        .join(mode.profile_dir())
        .join("frontend.wasm");
    let css = paths.workspace.join("style/main.css");
    let fingerprint = fingerprint(mode, &[&wasm, &css])?;
    let pkg = paths.pkg();
    let stamp = pkg.join(STAMP);
    let up_to_date = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
        && [".js", "_bg.wasm", ".css"]
            .iter()
            .all(|end| pkg.join(format!("{OUTPUT_NAME}{end}")).exists());

    if up_to_date {
        step("the browser files are up to date");
    } else {
        // A half-written pkg/ from an interrupted run must not look finished.
        let _ = fs::remove_file(&stamp);
        fs::create_dir_all(&pkg)?;
        bindgen(&wasm, &pkg)?;
        if mode == Mode::Release {
            optimize(&pkg.join(format!("{OUTPUT_NAME}_bg.wasm")))?;
        }
        fs::copy(&css, pkg.join(format!("{OUTPUT_NAME}.css")))?;
        compress_dir(&pkg)?;
        fs::write(&stamp, &fingerprint)?;
    }
    let copied = copy_dir(&paths.workspace.join("public"), &paths.site)?;
    if copied > 0 {
        step(&format!("copied {copied} changed file(s) from public/"));
    }
    step(&format!(
        "site ready in {} ({:.1} s)",
        paths.site.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn step(what: &str) {
    println!("\x1b[1;36m[xtask]\x1b[0m {what}");
}

fn build_wasm(paths: &Paths, mode: Mode) -> Result<()> {
    step(&format!(
        "building the browser WASM (profile {})",
        mode.profile()
    ));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&paths.workspace)
        .args(["build", "--locked", "-p", "frontend", "--lib"])
        .args(["--target", WASM_TARGET, "--profile", mode.profile()])
        .env("CARGO_TARGET_DIR", paths.wasm_target())
        .status()?;
    if !status.success() {
        return Err(format!("cargo build of the frontend failed ({status})").into());
    }
    Ok(())
}

/// What the outputs depend on: the mode and the bytes of each input.
fn fingerprint(mode: Mode, inputs: &[&Path]) -> Result<String> {
    let mut hasher = DefaultHasher::new();
    mode.hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    for input in inputs {
        fs::read(input)
            .map_err(|e| format!("{}: {e}", input.display()))?
            .hash(&mut hasher);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

fn bindgen(wasm: &Path, pkg: &Path) -> Result<()> {
    step("wasm-bindgen");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .out_name(OUTPUT_NAME)
        .web(true)?
        .typescript(false)
        .generate(pkg)?;
    Ok(())
}

/// binaryen's optimizer for size. The features are the ones Rust's wasm32 target emits by
/// default; naming them keeps wasm-opt from lowering or refusing them.
fn optimize(wasm: &Path) -> Result<()> {
    step("wasm-opt -Oz (binaryen)");
    let before = fs::metadata(wasm)?.len();
    let status = Command::new("wasm-opt")
        .arg("-Oz")
        .args([
            "--enable-bulk-memory",
            "--enable-mutable-globals",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-reference-types",
            "--enable-multivalue",
        ])
        .arg(wasm)
        .arg("-o")
        .arg(wasm)
        .status()
        .map_err(|e| {
            format!(
                "wasm-opt: {e} (scripts/ensure-tools.sh build installs binaryen and prints where)"
            )
        })?;
    if !status.success() {
        return Err(format!("wasm-opt failed ({status})").into());
    }
    let after = fs::metadata(wasm)?.len();
    step(&format!(
        "wasm-opt: {} KB → {} KB",
        before / 1024,
        after / 1024
    ));
    Ok(())
}

fn compress_dir(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            compress_dir(&path)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "wasm" | "css")
        ) {
            let raw = fs::read(&path)?;
            let compressed = brotli_bytes(&raw)?;
            let mut name = path.clone().into_os_string();
            name.push(".br");
            fs::write(&name, &compressed)?;
        }
    }
    Ok(())
}

fn brotli_bytes(raw: &[u8]) -> Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(raw.len() / 3);
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params)?;
    Ok(out)
}

/// Copies `from` into `to`, skipping files whose copy already has the same size and is newer.
/// Returns how many files were copied.
fn copy_dir(from: &Path, to: &Path) -> Result<usize> {
    fs::create_dir_all(to)?;
    let mut copied = 0;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copied += copy_dir(&source, &dest)?;
            continue;
        }
        let meta = entry.metadata()?;
        let fresh = fs::metadata(&dest).is_ok_and(|d| {
            d.len() == meta.len()
                && matches!((d.modified(), meta.modified()), (Ok(d), Ok(s)) if d >= s)
        });
        if !fresh {
            fs::copy(&source, &dest)?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Prints the built WASM's size; with a budget, fails when its brotli size is over it.
fn wasm_size(budget_kb: Option<u64>) -> Result<()> {
    let wasm = Paths::find()?.pkg().join(format!("{OUTPUT_NAME}_bg.wasm"));
    let raw = fs::read(&wasm).map_err(|e| {
        format!(
            "{}: {e} (run `cargo xtask site --release` first)",
            wasm.display()
        )
    })?;
    let brotli = brotli_bytes(&raw)?.len() as u64;
    let raw_len = raw.len() as u64;
    println!(
        "{}: {} KB, {} KB brotli",
        wasm.display(),
        raw_len / 1024,
        brotli / 1024
    );
    println!(
        "{{\"wasm_bytes\":{raw_len},\"wasm_brotli_bytes\":{brotli}{}}}",
        budget_kb.map_or(String::new(), |kb| format!(",\"budget_kb\":{kb}"))
    );
    match budget_kb {
        Some(kb) if brotli > kb * 1024 => Err(format!(
            "the browser WASM is {} KB brotli, over its budget of {kb} KB",
            brotli / 1024
        )
        .into()),
        _ => Ok(()),
    }
}
