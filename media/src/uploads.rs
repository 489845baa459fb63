//! Resumable uploads: the filesystem store behind Kino's tus 1.0 endpoints.
//!
//! A film is gigabytes; a browser upload over home Wi-Fi breaks. With tus the client asks how
//! much the server has and sends only the rest. This module keeps that state on disk so it
//! survives a server restart; the HTTP handlers are thin and map one call to one request:
//!
//! | tus request | call | success | typical errors |
//! |---|---|---|---|
//! | `POST` (creation, `Upload-Length`, `Upload-Metadata`) | [`UploadStore::create`] | 201 + `Location` | `TooLarge` → 413 |
//! | `HEAD` | [`UploadStore::info`] (compare the owner first) | 200, `Upload-Offset`, `Upload-Length`, `Cache-Control: no-store` | `NotFound` → 404 |
//! | `PATCH` (`Upload-Offset`, `application/offset+octet-stream`) | [`UploadStore::append`] | 204 + new `Upload-Offset` | `Conflict` → 409, `Locked` → 423, `ExceedsLength` → 413, `Forbidden` → 403 |
//! | `DELETE` (termination) | [`UploadStore::cancel`] | 204 | |
//! | (Kino) "done" | [`UploadStore::finish`], then move the file into the library | | `Incomplete` → 409 |
//!
//! On disk, in the store's directory, an upload `<id>` (32 lowercase hex digits) is:
//! * `<id>.part`: the bytes received so far. Its size *is* the tus offset, so what the client is
//!   told is always what is really on disk, even after a crash;
//! * `<id>.json`: the sidecar (owner, announced length, display name, creation time, type);
//! * `<id>.upload`: the finished file, after [`UploadStore::finish`], until the caller moves it.
//!
//! [`UploadStore::sweep`] removes uploads nobody has fed for a while, and leftovers of crashes.
//! The store assumes it is the only process writing to its directory.

use std::collections::HashSet;
use std::error::Error as StdError;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

/// Bytes collected in memory before they go to the file. Bounds memory per running append
/// (tokio's file adds at most one more write's worth while that write is in flight).
const WRITE_BUFFER: usize = 256 * 1024;
/// Longest display name kept, in characters.
const MAX_FILENAME_CHARS: usize = 200;

/// The directory of unfinished uploads, and the limit on their size.
#[derive(Debug)]
pub struct UploadStore {
    dir: PathBuf,
    max_bytes: u64,
    /// Uploads a call is working on right now. One writer per upload: two PATCH requests
    /// writing at once would interleave their bytes.
    busy: Mutex<HashSet<String>>,
}

/// What the store knows about one upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadInfo {
    pub id: String,
    /// Whoever created it (a user id); only they may append, finish or cancel.
    pub owner: String,
    /// The size the client announced, in bytes.
    pub length: u64,
    /// The bytes on disk so far: where the next append must start.
    pub offset: u64,
    /// The client's file name, cleaned for display. Never use it as a path.
    pub filename: String,
    pub content_type: Option<String>,
    /// When the upload was created, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// Whether every byte has arrived (`offset == length`), so [`UploadStore::finish`] may run.
    pub complete: bool,
}

/// Why an upload operation failed. Messages are written for the person uploading or the admin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    #[error("{id:?} is not an upload id (expected 32 hexadecimal digits)")]
    InvalidId { id: String },

    #[error("there is no upload {id}; it may have been finished, cancelled or cleaned up")]
    NotFound { id: String },

    #[error("the file is {} but uploads are limited to {}", crate::human_bytes(*length), crate::human_bytes(*max_bytes))]
    TooLarge { length: u64, max_bytes: u64 },

    #[error("upload {id} belongs to someone else")]
    Forbidden { id: String },

    /// The tus rule: an append must start exactly where the stored bytes end.
    #[error("upload {id} continues at byte {expected}, but this request starts at byte {got}; ask for the current offset and resume from there")]
    Conflict { id: String, expected: u64, got: u64 },

    /// Another call is working on this upload; this one was refused rather than made to wait,
    /// because a waiting PATCH would fail the offset check anyway once the first one is done.
    #[error("another request is still writing to upload {id}; try again once it has finished")]
    Locked { id: String },

    #[error("the request carries more than the {length} bytes announced for upload {id}; the bytes up to that length were kept and the rest discarded")]
    ExceedsLength { id: String, length: u64 },

    /// The body broke off (the client went away). Everything before the break is stored, and
    /// `offset` is where the client resumes.
    #[error("upload {id} was interrupted after {offset} bytes were stored ({source}); resume from there")]
    Interrupted {
        id: String,
        offset: u64,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },

    #[error("upload {id} is not complete: {offset} of {length} bytes have arrived")]
    Incomplete {
        id: String,
        offset: u64,
        length: u64,
    },

    #[error("the record of upload {id} cannot be read ({reason}); cancel it and upload again")]
    Corrupt { id: String, reason: String },

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The sidecar `<id>.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    owner: String,
    length: u64,
    filename: String,
    created_at_ms: u64,
    content_type: Option<String>,
}

impl UploadStore {
    /// A store in `dir` (created if missing) accepting uploads of at most `max_bytes`.
    pub async fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> io::Result<Self> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir).await?;
        Ok(Self {
            dir,
            max_bytes,
            busy: Mutex::new(HashSet::new()),
        })
    }

    /// A store in `dir` that creates the directory with its first upload (for callers that
    /// cannot wait, such as a server's state built at start-up).
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
            busy: Mutex::new(HashSet::new()),
        }
    }

    /// The directory the store keeps its files in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The largest upload accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Starts an upload of `length` bytes for `owner`. `filename` and `content_type` are what
    /// the client says; they are kept for display and never used as paths.
    pub async fn create(
        &self,
        owner: &str,
        length: u64,
        filename: &str,
        content_type: Option<&str>,
    ) -> Result<UploadInfo, UploadError> {
        if length > self.max_bytes {
            return Err(UploadError::TooLarge {
                length,
                max_bytes: self.max_bytes,
            });
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let sidecar = Sidecar {
            owner: owner.to_owned(),
            length,
            filename: display_name(filename),
            created_at_ms: now_ms(),
            content_type: content_type.and_then(clean_content_type),
        };
        let part = self.path(&id, "part");
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io_error("create", &self.dir))?;
        // `create_new`: a uuid collision must not adopt someone else's bytes.
        tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .await
            .map_err(io_error("create", &part))?;
        if let Err(e) = self.write_sidecar(&id, &sidecar).await {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tracing::debug!(%id, owner, length, "upload created");
        Ok(info_from(id, sidecar, 0))
    }

    /// The state of upload `id`. Does not check the owner: handlers must compare
    /// [`UploadInfo::owner`] with the caller before answering.
    pub async fn info(&self, id: &str) -> Result<UploadInfo, UploadError> {
        let id = valid_id(id)?;
        let sidecar = self.read_sidecar(id).await?;
        let part = self.path(id, "part");
        let offset = match tokio::fs::metadata(&part).await {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(id)),
            Err(e) => return Err(io_error("read", &part)(e)),
        };
        Ok(info_from(id.to_owned(), sidecar, offset))
    }

    /// Writes `body` to upload `id` starting at `offset`, and returns the new offset.
    ///
    /// `offset` must be where the stored bytes end ([`UploadError::Conflict`] otherwise), and
    /// the body must not go past the announced length (the bytes up to it are kept, then
    /// [`UploadError::ExceedsLength`]). If the body breaks off, what arrived before the break is
    /// flushed to disk and [`UploadError::Interrupted`] tells the new offset, so the client
    /// resumes from the last byte the server has instead of starting over.
    ///
    /// Only one call works on an upload at a time; a second one gets [`UploadError::Locked`]
    /// at once (handlers should put a read timeout on request bodies, so a client that vanished
    /// without closing its connection does not hold an upload for long).
    pub async fn append<S, E>(
        &self,
        id: &str,
        owner: &str,
        offset: u64,
        body: S,
    ) -> Result<u64, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let id = valid_id(id)?;
        let _busy = self.claim(id)?;
        let sidecar = self.read_sidecar(id).await?;
        if sidecar.owner != owner {
            return Err(UploadError::Forbidden { id: id.to_owned() });
        }
        let part = self.path(id, "part");
        let mut file = match tokio::fs::OpenOptions::new().write(true).open(&part).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(id)),
            Err(e) => return Err(io_error("open", &part)(e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(io_error("read", &part))?
            .len();
        if offset != size {
            return Err(UploadError::Conflict {
                id: id.to_owned(),
                expected: size,
                got: offset,
            });
        }
        // Positioned writes, not O_APPEND: should a write from an earlier, abandoned call still
        // land, it rewrites the same client bytes at the same place instead of duplicating them.
        file.seek(SeekFrom::Start(size))
            .await
            .map_err(io_error("write", &part))?;

        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut stored = size;
        let mut body = pin!(body);
        let end = loop {
            let chunk = match body.next().await {
                None => break End::Complete,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => break End::Broken(e.into()),
            };
            let room = sidecar.length - stored;
            let fits = chunk.len() as u64 <= room;
            // When it does not fit, `room` < chunk.len(), so the cast cannot truncate.
            let keep = if fits {
                &chunk[..]
            } else {
                &chunk[..room as usize]
            };
            if let Err(e) = out.write_all(keep).await {
                break End::Failed(io_error("write", &part)(e));
            }
            stored += keep.len() as u64;
            if !fits {
                break End::Failed(UploadError::ExceedsLength {
                    id: id.to_owned(),
                    length: sidecar.length,
                });
            }
        };
        // Whatever happened, what was received goes to disk before we answer: that is the
        // offset the client will be told to resume from.
        out.flush().await.map_err(io_error("write", &part))?;
        match end {
            End::Complete => Ok(stored),
            End::Failed(e) => Err(e),
            End::Broken(source) => {
                tracing::debug!(%id, offset = stored, error = %source, "upload interrupted");
                Err(UploadError::Interrupted {
                    id: id.to_owned(),
                    offset: stored,
                    source,
                })
            }
        }
    }

    /// Completes upload `id`: `<id>.part` becomes `<id>.upload`, whose path is returned, and
    /// the sidecar goes. The caller moves the file into the media library (until then a sweep
    /// treats it as a leftover once it is older than the sweep's age). Read [`Self::info`]
    /// first if the display name or type are needed: they go with the sidecar.
    pub async fn finish(&self, id: &str, owner: &str) -> Result<PathBuf, UploadError> {
        let id = valid_id(id)?;
        let _busy = self.claim(id)?;
        let info = self.owned_info(id, owner).await?;
        if !info.complete {
            return Err(UploadError::Incomplete {
                id: id.to_owned(),
                offset: info.offset,
                length: info.length,
            });
        }
        let part = self.path(id, "part");
        let done = self.path(id, "upload");
        tokio::fs::rename(&part, &done)
            .await
            .map_err(io_error("rename", &part))?;
        // A rename keeps the old modification time; start the leftover clock now, so a sweep
        // cannot take the file from under the caller who is about to move it.
        let touched = done.clone();
        let touch = tokio::task::spawn_blocking(move || {
            std::fs::File::options()
                .write(true)
                .open(&touched)?
                .set_modified(SystemTime::now())
        })
        .await;
        if let Err(e) = touch.map_err(io::Error::other).and_then(|touched| touched) {
            tracing::warn!(path = %done.display(), error = %e, "could not update a finished upload's time");
        }
        let sidecar = self.path(id, "json");
        remove_if_present(&sidecar)
            .await
            .map_err(io_error("remove", &sidecar))?;
        tracing::info!(%id, bytes = info.length, "upload finished");
        Ok(done)
    }

    /// Abandons upload `id` (tus termination): its bytes and record are deleted.
    pub async fn cancel(&self, id: &str, owner: &str) -> Result<(), UploadError> {
        let id = valid_id(id)?;
        let _busy = self.claim(id)?;
        self.owned_info(id, owner).await?;
        for ext in ["part", "json"] {
            let path = self.path(id, ext);
            remove_if_present(&path)
                .await
                .map_err(io_error("remove", &path))?;
        }
        tracing::debug!(%id, "upload cancelled");
        Ok(())
    }

    /// Deletes uploads nobody has fed for longer than `older_than`, and leftovers of crashes
    /// (a part without a record, a record without a part, finished files never collected),
    /// and returns how many uploads it removed. An upload's age counts from its creation or
    /// its last received byte, whichever is later, so a slow upload still in progress stays.
    /// Uploads a call is working on are skipped; files not named like ours are left alone.
    pub async fn sweep(&self, older_than: Duration) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut ids: Vec<String> = Vec::new();
        let mut entries = tokio::fs::read_dir(&self.dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            if let Some((id, _)) = name.to_str().and_then(split_name) {
                if !ids.iter().any(|known| known == id) {
                    ids.push(id.to_owned());
                }
            }
        }
        let mut removed = 0;
        for id in ids {
            let Ok(_busy) = self.claim(&id) else { continue };
            let Some(last_activity) = self.last_activity(&id).await? else {
                continue;
            };
            let idle = now.duration_since(last_activity).unwrap_or_default();
            if idle <= older_than {
                continue;
            }
            for ext in EXTENSIONS {
                remove_if_present(&self.path(&id, ext)).await?;
            }
            tracing::info!(%id, idle_secs = idle.as_secs(), "swept an abandoned upload");
            removed += 1;
        }
        Ok(removed)
    }

    /// When upload `id` last showed life: its recorded creation time or the newest
    /// modification of its data files; for a leftover without a readable record, the newest
    /// modification of any of its files. `None` if it has no files (any more).
    async fn last_activity(&self, id: &str) -> io::Result<Option<SystemTime>> {
        let recorded = match self.read_sidecar(id).await {
            Ok(sidecar) => Some(UNIX_EPOCH + Duration::from_millis(sidecar.created_at_ms)),
            Err(_) => None,
        };
        let mut latest = recorded;
        for ext in EXTENSIONS {
            if ext == "json" && recorded.is_some() {
                continue;
            }
            match tokio::fs::metadata(self.path(id, ext)).await {
                Ok(meta) => {
                    let modified = meta.modified()?;
                    latest = Some(latest.map_or(modified, |t| t.max(modified)));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(latest)
    }

    /// The info of `id` if `owner` owns it.
    async fn owned_info(&self, id: &str, owner: &str) -> Result<UploadInfo, UploadError> {
        let info = self.info(id).await?;
        if info.owner != owner {
            return Err(UploadError::Forbidden { id: id.to_owned() });
        }
        Ok(info)
    }

    /// Marks `id` as being worked on until the returned guard is dropped (also when the
    /// request's future is dropped half-way).
    fn claim(&self, id: &str) -> Result<Claim<'_>, UploadError> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if !busy.insert(id.to_owned()) {
            return Err(UploadError::Locked { id: id.to_owned() });
        }
        Ok(Claim {
            busy: &self.busy,
            id: id.to_owned(),
        })
    }

    fn path(&self, id: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ext}"))
    }

    async fn read_sidecar(&self, id: &str) -> Result<Sidecar, UploadError> {
        let path = self.path(id, "json");
        let text = match tokio::fs::read(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(id)),
            Err(e) => return Err(io_error("read", &path)(e)),
        };
        serde_json::from_slice(&text).map_err(|e| UploadError::Corrupt {
            id: id.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Writes the sidecar through a temporary file and a rename, so a crash leaves either the
    /// old record or the new one, never half of one.
    async fn write_sidecar(&self, id: &str, sidecar: &Sidecar) -> Result<(), UploadError> {
        let json = serde_json::to_vec(sidecar).map_err(|e| UploadError::Corrupt {
            id: id.to_owned(),
            reason: e.to_string(),
        })?;
        let tmp = self.path(id, "json.tmp");
        let path = self.path(id, "json");
        tokio::fs::write(&tmp, json)
            .await
            .map_err(io_error("write", &tmp))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(io_error("write", &path))
    }
}

/// How the body of an append ended.
enum End {
    /// The body ended normally.
    Complete,
    /// We stopped: a write failed or the body went past the announced length.
    Failed(UploadError),
    /// The body itself broke off (the client went away).
    Broken(Box<dyn StdError + Send + Sync>),
}

/// Releases a [`UploadStore::claim`].
struct Claim<'a> {
    busy: &'a Mutex<HashSet<String>>,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Every file extension the store writes, for the sweep.
const EXTENSIONS: [&str; 4] = ["part", "json", "json.tmp", "upload"];

/// `<id>.<ext>` for a valid id and one of [`EXTENSIONS`].
fn split_name(name: &str) -> Option<(&str, &str)> {
    let (id, ext) = name.split_once('.')?;
    (valid_id(id).is_ok() && EXTENSIONS.contains(&ext)).then_some((id, ext))
}

/// Accepts exactly what [`UploadStore::create`] hands out (a simple-form uuid: 32 lowercase
/// hex digits), so an id can never be a path (`../`, `/`, `.`) or name another kind of file.
fn valid_id(id: &str) -> Result<&str, UploadError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id)
    } else {
        Err(UploadError::InvalidId {
            id: id.chars().take(64).collect(),
        })
    }
}

/// The client's file name made safe to show: the last path component, no control or
/// direction-changing characters, at most [`MAX_FILENAME_CHARS`] characters.
fn display_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .take(MAX_FILENAME_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        "upload".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Characters that reorder text on screen ("gnp.exe" shown as "exe.png").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A plausible MIME type or nothing: it is only a hint, the file is probed later.
fn clean_content_type(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let plausible = !raw.is_empty()
        && raw.len() <= 255
        && raw.contains('/')
        && raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    plausible.then(|| raw.to_owned())
}

fn info_from(id: String, sidecar: Sidecar, offset: u64) -> UploadInfo {
    UploadInfo {
        id,
        owner: sidecar.owner,
        complete: offset == sidecar.length,
        length: sidecar.length,
        offset,
        filename: sidecar.filename,
        content_type: sidecar.content_type,
        created_at_ms: sidecar.created_at_ms,
    }
}

fn not_found(id: &str) -> UploadError {
    UploadError::NotFound { id: id.to_owned() }
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> UploadError + 'a {
    move |source| UploadError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

async fn remove_if_present(path: &Path) -> io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_only() {
        assert!(valid_id("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "../../etc/passwd",
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcde/",
            "..",
        ] {
            assert!(valid_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn display_names_are_cleaned() {
        assert_eq!(display_name("C:\\Users\\me\\film.mp4"), "film.mp4");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("a\u{202e}4pm.exe"), "a4pm.exe");
        assert_eq!(display_name("line\nbreak.mkv"), "linebreak.mkv");
        assert_eq!(display_name("  ..  "), "upload");
        assert_eq!(display_name(""), "upload");
        assert_eq!(
            display_name(&"é".repeat(500)).chars().count(),
            MAX_FILENAME_CHARS
        );
    }

    #[test]
    fn names_on_disk_are_recognised() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(split_name(&format!("{id}.part")), Some((id, "part")));
        assert_eq!(
            split_name(&format!("{id}.json.tmp")),
            Some((id, "json.tmp"))
        );
        assert_eq!(split_name("notes.txt"), None);
        assert_eq!(split_name(&format!("{id}.mp4")), None);
    }
}
