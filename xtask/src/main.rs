//! Kino's build step: `cargo xtask site [--release]` writes the browser's half of Kino into the
//! workspace's `target/site`, which the `kino` server serves.
//!
//! 1. `cargo build -p frontend` for wasm32 (profile `wasm-release` with `--release`, else `dev`);
//! 2. the module is split at Leptos' lazy routes (`#[lazy_route]`, `#[lazy]`) by
//!    `wasm_split_cli_support`: what only one page uses moves into a chunk (`pkg/<name>.wasm`)
//!    that the browser loads when that page is opened, and `pkg/__wasm_split_manifest.json` tells
//!    the server which chunks a page needs, so the page's HTML preloads them;
//! 3. wasm-bindgen, as a library pinned to the `wasm-bindgen` crate's exact version, writes
//!    `pkg/kino.js` and `pkg/kino_bg.wasm` from the split's main module;
//! 4. with `--release`, binaryen's `wasm-opt -Oz` on the main module and every chunk (found on
//!    PATH; `scripts/ensure-tools.sh` installs it from the npm registry);
//! 5. `style/main.css` becomes `pkg/kino.css`, and `public/` is copied into the site root;
//! 6. every file in `pkg/` gets a brotli twin (`.br`), which the server sends to browsers that
//!    accept it.
//!
//! Steps 2–6 are skipped when the compiled WASM, the stylesheet and the mode are what the last run
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
/// The names `leptos::HydrationScripts` looks for when the files are not hashed: the chunk loader
/// the split main module imports, and the map from each lazy function to the chunks it needs.
const SPLIT_LOADER: &str = "__wasm_split.______________________.js";
const SPLIT_MANIFEST: &str = "__wasm_split_manifest.json";

const USAGE: &str = "usage: cargo xtask site [--release]
       cargo xtask wasm-size [--main-budget-kb M] [--budget-kb N]
                 the brotli WASM each page needs before it works: M is the most allowed for the
                 pages in the main module, N for the largest lazy page (main module + its chunks)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("site") => match &args[1..] {
            [] => site(Mode::Dev),
            [flag] if flag == "--release" => site(Mode::Release),
            _ => Err(USAGE.into()),
        },
        Some("wasm-size") => wasm_size_args(&args[1..]).and_then(wasm_size),
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
        // Read at run time (`cargo run` sets it): another checkout sharing the target directory
        // (CI's fresh clone, a second work tree) may have built this binary, and a path baked in
        // at compile time would build and write the site there.
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
        let workspace = manifest
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
            .all(|end| pkg.join(format!("{OUTPUT_NAME}{end}")).exists())
        && pkg.join(SPLIT_MANIFEST).exists();

    if up_to_date {
        step("the browser files are up to date");
    } else {
        // Start from an empty pkg/: a half-written one from an interrupted run must not look
        // finished, and chunks of an earlier build must not linger beside the new ones.
        if pkg.exists() {
            fs::remove_dir_all(&pkg)?;
        }
        fs::create_dir_all(&pkg)?;
        let main = split(&wasm, &pkg)?;
        bindgen(&main, &pkg)?;
        if mode == Mode::Release {
            for file in files_ending(&pkg, ".wasm")? {
                optimize(&file)?;
            }
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

/// Splits the linked module at its lazy functions: the chunks and their loader go into `pkg`,
/// the main module (still to go through wasm-bindgen) beside the input. Returns the main module.
fn split(wasm: &Path, pkg: &Path) -> Result<PathBuf> {
    step("splitting the WASM at the lazy routes");
    let input = fs::read(wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let main = wasm.with_file_name("frontend_split.wasm");
    let main_module = format!("./{OUTPUT_NAME}.js");
    let link_name = format!("./{SPLIT_LOADER}");
    let mut options = wasm_split_cli_support::Options::new(&input);
    options.output_dir = pkg;
    options.main_out_path = &main;
    options.main_module = &main_module;
    options.link_name = &link_name;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|e| format!("splitting {}: {e:?}", wasm.display()))?;
    fs::write(
        pkg.join(SPLIT_MANIFEST),
        serde_json::to_string_pretty(&split.prefetch_map)?,
    )?;
    step(&format!("{} chunk(s)", split.split_modules.len()));
    Ok(main)
}

fn bindgen(wasm: &Path, pkg: &Path) -> Result<()> {
    step("wasm-bindgen");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .out_name(OUTPUT_NAME)
        .web(true)?
        .typescript(false)
        // The chunks call into the main module by the linker's export names.
        .keep_lld_exports(true)
        .demangle(false)
        .generate(pkg)?;
    Ok(())
}

/// The files directly in `dir` whose names end with `end`, sorted.
fn files_ending(dir: &Path, end: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.to_string_lossy().ends_with(end) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// binaryen's optimizer for size. The features are the ones Rust's wasm32 target emits by
/// default; naming them keeps wasm-opt from lowering or refusing them.
fn optimize(wasm: &Path) -> Result<()> {
    let before = fs::metadata(wasm)?.len();
    let ran = Command::new("wasm-opt")
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
        .output()
        .map_err(|e| {
            format!(
                "wasm-opt: {e} (scripts/ensure-tools.sh build installs binaryen and prints where)"
            )
        })?;
    // wasm-split writes label names (the name section's subsection 3), which this binaryen does
    // not read: it warns once per module, harmlessly. Everything else it says is shown.
    for line in String::from_utf8_lossy(&ran.stderr).lines() {
        if !line.contains("unknown name subsection with id 3") {
            eprintln!("{line}");
        }
    }
    let status = ran.status;
    if !status.success() {
        return Err(format!("wasm-opt failed ({status})").into());
    }
    let after = fs::metadata(wasm)?.len();
    step(&format!(
        "wasm-opt -Oz {}: {} KB → {} KB",
        wasm.file_name().unwrap_or_default().to_string_lossy(),
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

/// `room` for the lazy function `__room_route_view_15150662817528546845` (Leptos' name for
/// `RoomRoute`'s view: the function's name and a hash of where it is declared).
fn page_name(lazy: &str) -> String {
    let name = lazy.trim_start_matches('_');
    let name = name
        .rsplit_once('_')
        .filter(|(_, hash)| hash.bytes().all(|b| b.is_ascii_digit()))
        .map_or(name, |(name, _)| name);
    name.strip_suffix("_route_view").unwrap_or(name).to_string()
}

/// The most brotli WASM, in KB, a page may need before it works.
#[derive(Default, Debug)]
struct Budgets {
    /// The pages that are not lazy routes: the main module alone.
    main_kb: Option<u64>,
    /// The largest lazy page: the main module and the chunks it needs.
    page_kb: Option<u64>,
}

fn wasm_size_args(args: &[String]) -> Result<Budgets> {
    let mut budgets = Budgets::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--main-budget-kb" => &mut budgets.main_kb,
            "--budget-kb" => &mut budgets.page_kb,
            _ => return Err(USAGE.into()),
        };
        let kb = args.next().ok_or(USAGE)?;
        *slot = Some(
            kb.parse()
                .map_err(|_| format!("{flag} takes a whole number, not {kb:?}"))?,
        );
    }
    Ok(budgets)
}

/// Prints the brotli size of the main module and of what each lazy page adds to it; fails when
/// a page needs more than its budget before it works.
fn wasm_size(budgets: Budgets) -> Result<()> {
    let pkg = Paths::find()?.pkg();
    let main = pkg.join(format!("{OUTPUT_NAME}_bg.wasm"));
    let brotli_of = |file: &Path| -> Result<(u64, u64)> {
        let raw = fs::read(file).map_err(|e| {
            format!(
                "{}: {e} (run `cargo xtask site --release` first)",
                file.display()
            )
        })?;
        Ok((raw.len() as u64, brotli_bytes(&raw)?.len() as u64))
    };
    let (main_raw, main_brotli) = brotli_of(&main)?;
    let manifest: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&fs::read_to_string(pkg.join(SPLIT_MANIFEST))?)?;
    let mut chunks = std::collections::BTreeMap::new();
    for file in files_ending(&pkg, ".wasm")? {
        if file != main {
            let stem = file.file_stem().unwrap_or_default().to_string_lossy();
            chunks.insert(stem.into_owned(), brotli_of(&file)?);
        }
    }
    let all_raw = main_raw + chunks.values().map(|c| c.0).sum::<u64>();
    let all_brotli = main_brotli + chunks.values().map(|c| c.1).sum::<u64>();
    println!(
        "main module: {} KB, {} KB brotli; with all {} chunks: {} KB, {} KB brotli",
        main_raw / 1024,
        main_brotli / 1024,
        chunks.len(),
        all_raw / 1024,
        all_brotli / 1024
    );
    // A lazy page needs the main module and the chunks the manifest lists for it.
    let mut largest = ("(no lazy page)".to_string(), main_brotli);
    for (lazy, needs) in &manifest {
        let page = main_brotli
            + needs
                .iter()
                .filter_map(|c| chunks.get(c))
                .map(|c| c.1)
                .sum::<u64>();
        let lazy = page_name(lazy);
        println!("  {lazy}: {} KB brotli", page / 1024);
        if page > largest.1 {
            largest = (lazy, page);
        }
    }
    println!(
        "{{\"main_brotli_bytes\":{main_brotli},\"all_bytes\":{all_raw},\"all_brotli_bytes\":{all_brotli},\"largest_page\":{:?},\"largest_page_brotli_bytes\":{},\"main_budget_kb\":{},\"budget_kb\":{}}}",
        largest.0,
        largest.1,
        budgets.main_kb.map_or("null".into(), |kb| kb.to_string()),
        budgets.page_kb.map_or("null".into(), |kb| kb.to_string()),
    );
    if let Some(kb) = budgets.main_kb.filter(|kb| main_brotli > kb * 1024) {
        return Err(format!(
            "the main module (every page that is not a lazy route) is {} KB of brotli WASM, \
             over its budget of {kb} KB",
            main_brotli / 1024
        )
        .into());
    }
    match budgets.page_kb {
        Some(kb) if largest.1 > kb * 1024 => Err(format!(
            "{} needs {} KB of brotli WASM before it works, over the budget of {kb} KB",
            largest.0,
            largest.1 / 1024
        )
        .into()),
        _ => Ok(()),
    }
}
