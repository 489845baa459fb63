//! The library's shared types (what the page shows of a job) and the film form, parsed at the
//! edge.

use crate::catalog::domain::GENRES;
use crate::error::{AppError, Invalid};
use serde::{Deserialize, Serialize};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// Download the film's source from its URL into the media directory.
    Import,
    /// Inspect the source and plan the rest of the jobs.
    Probe,
    /// One rendition: a height (the short side) in one container.
    Rendition { height: i64, container: Container },
    /// Pick a poster frame.
    Poster,
    /// The seek previews: a sprite of small frames and its WebVTT index.
    Sprite,
    /// Extract the source's text subtitle tracks.
    Subtitles,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Container {
    Mp4,
    Webm,
}

impl Container {
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Webm => "webm",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "mp4" => Some(Container::Mp4),
            "webm" => Some(Container::Webm),
            _ => None,
        }
    }
}

impl JobKind {
    /// The row's `(kind, height, container)`.
    pub fn columns(self) -> (&'static str, i64, &'static str) {
        match self {
            JobKind::Import => ("import", 0, ""),
            JobKind::Probe => ("probe", 0, ""),
            JobKind::Rendition { height, container } => ("rendition", height, container.as_str()),
            JobKind::Poster => ("poster", 0, ""),
            JobKind::Sprite => ("sprite", 0, ""),
            JobKind::Subtitles => ("subtitles", 0, ""),
        }
    }

    pub fn from_columns(kind: &str, height: i64, container: &str) -> Option<Self> {
        Some(match kind {
            "import" => JobKind::Import,
            "probe" => JobKind::Probe,
            "rendition" => JobKind::Rendition {
                height,
                container: Container::parse(container)?,
            },
            "poster" => JobKind::Poster,
            "sprite" => JobKind::Sprite,
            "subtitles" => JobKind::Subtitles,
            _ => return None,
        })
    }

    /// Lower runs first: getting the film playable soonest (the source, then the smallest MP4,
    /// which publishes it), then what the film page shows, then the rest of the ladder.
    pub fn priority(self) -> i64 {
        match self {
            JobKind::Import | JobKind::Probe => 0,
            JobKind::Rendition {
                height,
                container: Container::Mp4,
            } => 10 + height / 100,
            JobKind::Poster => 5,
            JobKind::Subtitles => 6,
            JobKind::Sprite => 40,
            JobKind::Rendition {
                height,
                container: Container::Webm,
            } => 50 + height / 100,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Queued,
        }
    }
}

/// A job as the library page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub film_id: String,
    pub kind: JobKind,
    pub state: JobState,
    /// Per mille.
    pub progress: i64,
    pub attempts: i64,
    pub error: Option<String>,
    pub updated_at: i64,
}

/// Where a room's video is, for its members: playable, being prepared ("Preparing the video…
/// 34 %"), failed, or removed with the room's chat by retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Readiness {
    Ready,
    Preparing { percent: u8 },
    Failed { why: String },
    Removed,
}

impl Readiness {
    /// From the film's state: whether a rendition is ready, whether its media is still kept,
    /// and its jobs. The percentage follows the steps before the first MP4 (the one that makes
    /// it playable): the download (when it is a link), inspecting the file, and that MP4.
    pub fn of(has_rendition: bool, has_media: bool, jobs: &[JobView]) -> Readiness {
        if has_rendition {
            return Readiness::Ready;
        }
        if !has_media {
            return Readiness::Removed;
        }
        let find = |wanted: fn(JobKind) -> bool| jobs.iter().filter(move |j| wanted(j.kind));
        let stopped = |j: &&JobView| matches!(j.state, JobState::Failed | JobState::Cancelled);
        let why = |j: &JobView| {
            j.error
                .as_deref()
                .and_then(|e| e.lines().next())
                .filter(|line| !line.trim().is_empty())
                .unwrap_or("cancelled")
                .to_owned()
        };
        let import = find(|k| k == JobKind::Import).next();
        let probe = find(|k| k == JobKind::Probe).next();
        let first_mp4 = find(|k| {
            matches!(
                k,
                JobKind::Rendition {
                    container: Container::Mp4,
                    ..
                }
            )
        })
        .min_by_key(|j| j.kind.priority());
        for step in [import, probe].into_iter().flatten() {
            if stopped(&step) {
                return Readiness::Failed { why: why(step) };
            }
        }
        let mp4s: Vec<&JobView> = find(|k| {
            matches!(
                k,
                JobKind::Rendition {
                    container: Container::Mp4,
                    ..
                }
            )
        })
        .collect();
        if !mp4s.is_empty() && mp4s.iter().all(stopped) {
            return Readiness::Failed { why: why(mp4s[0]) };
        }
        let done = |j: Option<&JobView>| match j {
            Some(j) if j.state == JobState::Done => 1000,
            Some(j) => j.progress.clamp(0, 1000),
            None => 0,
        };
        let (import_weight, probe_weight) = if import.is_some() { (40, 5) } else { (0, 5) };
        let rendition_weight = 100 - import_weight - probe_weight;
        let per_mille = import_weight * done(import)
            + probe_weight * done(probe)
            + rendition_weight * done(first_mp4);
        Readiness::Preparing {
            percent: (per_mille / 1000).clamp(0, 99) as u8,
        }
    }
}

/// The details an admin types for a film ("Add a film", "Edit"); a field left out is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct FilmForm {
    pub title_en: String,
    pub title_ru: String,
    pub original_title: String,
    pub year: String,
    /// Genres from [`GENRES`], comma-separated (the form's checkboxes are joined by the page).
    pub genres: String,
    /// ISO 3166 alpha-2 codes, separated by commas or spaces: "DE, US".
    pub countries: String,
    pub director: String,
    pub description_en: String,
    pub description_ru: String,
}

/// A [`FilmForm`] that can be stored: at least one title (the other is copied from it), a year
/// cinema could have made, known genres, country codes of two letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilmDetailsInput {
    pub title_en: String,
    pub title_ru: String,
    pub original_title: String,
    pub year: i64,
    pub genres: Vec<&'static str>,
    pub countries: Vec<String>,
    pub director: String,
    pub description_en: String,
    pub description_ru: String,
}

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;

fn line(raw: &str, max: usize) -> Result<String, AppError> {
    let text = raw.trim();
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(AppError::Invalid(Invalid::FilmText));
    }
    Ok(text.to_owned())
}

fn paragraph(raw: &str) -> Result<String, AppError> {
    let text = raw.trim().replace("\r\n", "\n");
    if text.chars().count() > DESCRIPTION_MAX_CHARS
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::Invalid(Invalid::FilmText));
    }
    Ok(text)
}

impl FilmDetailsInput {
    pub fn parse(form: &FilmForm) -> Result<Self, AppError> {
        let mut title_en = line(&form.title_en, TITLE_MAX_CHARS)?;
        let mut title_ru = line(&form.title_ru, TITLE_MAX_CHARS)?;
        match (title_en.is_empty(), title_ru.is_empty()) {
            (true, true) => return Err(AppError::Invalid(Invalid::FilmTitle)),
            (true, false) => title_en = title_ru.clone(),
            (false, true) => title_ru = title_en.clone(),
            (false, false) => {}
        }
        let mut original_title = line(&form.original_title, TITLE_MAX_CHARS)?;
        if original_title.is_empty() {
            original_title = title_en.clone();
        }
        let year = match form.year.trim() {
            "" => 0,
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|y| (1880..=2100).contains(y))
                .ok_or(AppError::Invalid(Invalid::FilmYear))?,
        };
        let mut genres = Vec::new();
        for raw in form
            .genres
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            let genre = GENRES
                .iter()
                .copied()
                .find(|known| *known == raw)
                .ok_or(AppError::Invalid(Invalid::UnknownGenre))?;
            if !genres.contains(&genre) {
                genres.push(genre);
            }
        }
        let mut countries = Vec::new();
        for raw in form
            .countries
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|c| !c.is_empty())
        {
            if raw.len() != 2 || !raw.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(AppError::Invalid(Invalid::Countries));
            }
            let code = raw.to_ascii_uppercase();
            if !countries.contains(&code) {
                countries.push(code);
            }
        }
        Ok(Self {
            title_en,
            title_ru,
            original_title,
            year,
            genres,
            countries,
            director: line(&form.director, TITLE_MAX_CHARS)?,
            description_en: paragraph(&form.description_en)?,
            description_ru: paragraph(&form.description_ru)?,
        })
    }

    /// A readable id for a new film, `title-year` in lowercase Latin letters and digits (a
    /// Russian title is transliterated); the caller adds a suffix when it is taken.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.title_en.to_lowercase().chars() {
            let piece = transliterate(c);
            if piece.is_empty() {
                if !slug.ends_with('-') && !slug.is_empty() {
                    slug.push('-');
                }
            } else {
                slug.push_str(piece);
            }
            if slug.len() >= 60 {
                break;
            }
        }
        let mut slug = slug.trim_matches('-').to_owned();
        if slug.is_empty() {
            slug.push_str("film");
        }
        if self.year > 0 {
            slug.push_str(&format!("-{}", self.year));
        }
        slug
    }
}

/// Latin letters and digits as themselves, Russian letters in a common romanisation, anything
/// else nothing (a separator).
fn transliterate(c: char) -> &'static str {
    const LATIN: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    if let Some(i) = LATIN.find(c) {
        return &LATIN[i..i + 1];
    }
    match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' | 'ё' | 'э' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        'ъ' | 'ь' => "",
        _ => "",
    }
}

/// Where a new film's video comes from: a finished upload (its id) or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    Upload(String),
    Url(url::Url),
}

impl VideoSource {
    pub fn parse(upload: Option<&str>, url: Option<&str>) -> Result<Self, AppError> {
        let upload = upload.map(str::trim).filter(|u| !u.is_empty());
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        match (upload, url) {
            (Some(id), None) => {
                if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AppError::Invalid(Invalid::VideoSource));
                }
                Ok(VideoSource::Upload(id.to_owned()))
            }
            (None, Some(raw)) => {
                let url = url::Url::parse(raw).map_err(|_| AppError::Invalid(Invalid::VideoUrl))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(AppError::Invalid(Invalid::VideoUrl));
                }
                Ok(VideoSource::Url(url))
            }
            _ => Err(AppError::Invalid(Invalid::VideoSource)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: JobKind, state: JobState, progress: i64, error: Option<&str>) -> JobView {
        JobView {
            id: String::new(),
            film_id: String::new(),
            kind,
            state,
            progress,
            attempts: 0,
            error: error.map(str::to_owned),
            updated_at: 0,
        }
    }

    const MP4_480: JobKind = JobKind::Rendition {
        height: 480,
        container: Container::Mp4,
    };
    const MP4_720: JobKind = JobKind::Rendition {
        height: 720,
        container: Container::Mp4,
    };

    #[test]
    fn readiness_rises_through_the_download_the_probe_and_the_first_mp4() {
        use JobState::*;
        let percent = |jobs: &[JobView]| match Readiness::of(false, true, jobs) {
            Readiness::Preparing { percent } => percent,
            other => panic!("{other:?}"),
        };
        let half_downloaded = percent(&[job(JobKind::Import, Running, 500, None)]);
        let downloaded = percent(&[
            job(JobKind::Import, Done, 1000, None),
            job(JobKind::Probe, Queued, 0, None),
        ]);
        let transcoding = percent(&[
            job(JobKind::Import, Done, 1000, None),
            job(JobKind::Probe, Done, 0, None),
            job(MP4_720, Queued, 0, None),
            job(MP4_480, Running, 500, None),
        ]);
        assert_eq!(half_downloaded, 20);
        assert_eq!(downloaded, 40);
        assert_eq!(transcoding, 72);
        // An upload has no download step: the MP4 is most of the way.
        assert_eq!(
            percent(&[
                job(JobKind::Probe, Done, 0, None),
                job(MP4_480, Running, 1000, None)
            ]),
            99
        );
        assert_eq!(Readiness::of(true, true, &[]), Readiness::Ready);
        assert_eq!(Readiness::of(false, false, &[]), Readiness::Removed);
    }

    #[test]
    fn readiness_fails_with_the_first_line_of_the_error() {
        use JobState::*;
        let failed = Readiness::of(
            false,
            true,
            &[job(
                JobKind::Probe,
                Failed,
                0,
                Some("the file is not a video\nffprobe: invalid data"),
            )],
        );
        assert_eq!(
            failed,
            Readiness::Failed {
                why: "the file is not a video".into()
            }
        );
        // One MP4 failing is not the end while another may still come.
        let one_left = Readiness::of(
            false,
            true,
            &[
                job(JobKind::Probe, Done, 0, None),
                job(MP4_480, Failed, 0, Some("oops")),
                job(MP4_720, Queued, 0, None),
            ],
        );
        assert!(
            matches!(one_left, Readiness::Preparing { .. }),
            "{one_left:?}"
        );
        let cancelled = Readiness::of(false, true, &[job(JobKind::Import, Cancelled, 0, None)]);
        assert_eq!(
            cancelled,
            Readiness::Failed {
                why: "cancelled".into()
            }
        );
    }

    fn form(title_en: &str, title_ru: &str, year: &str) -> FilmForm {
        FilmForm {
            title_en: title_en.into(),
            title_ru: title_ru.into(),
            year: year.into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_title_is_enough_and_is_copied() {
        let parsed = FilmDetailsInput::parse(&form("", "Сталкер", "1979")).unwrap();
        assert_eq!(parsed.title_en, "Сталкер");
        assert_eq!(parsed.original_title, "Сталкер");
        assert_eq!(parsed.slug(), "stalker-1979");
        assert!(FilmDetailsInput::parse(&form(" ", "", "")).is_err());
    }

    #[test]
    fn year_genres_and_countries_are_checked() {
        assert!(FilmDetailsInput::parse(&form("A", "", "1700")).is_err());
        assert!(FilmDetailsInput::parse(&form("A", "", "soon")).is_err());
        let mut f = form("A", "", "");
        f.genres = "drama, horror,drama".into();
        f.countries = "de us,FR".into();
        let parsed = FilmDetailsInput::parse(&f).unwrap();
        assert_eq!(parsed.genres, vec!["drama", "horror"]);
        assert_eq!(parsed.countries, vec!["DE", "US", "FR"]);
        f.genres = "drama,'; DROP".into();
        assert!(FilmDetailsInput::parse(&f).is_err());
        f.genres = String::new();
        f.countries = "Germany".into();
        assert!(FilmDetailsInput::parse(&f).is_err());
    }

    #[test]
    fn slugs_are_latin_and_bounded() {
        let parsed =
            FilmDetailsInput::parse(&form("The Man with a Movie Camera!", "", "1929")).unwrap();
        assert_eq!(parsed.slug(), "the-man-with-a-movie-camera-1929");
        let parsed = FilmDetailsInput::parse(&form("???", "", "")).unwrap();
        assert_eq!(parsed.slug(), "film");
        let long = "x".repeat(200);
        assert!(
            FilmDetailsInput::parse(&form(&long, "", ""))
                .unwrap()
                .slug()
                .len()
                <= 61
        );
    }

    #[test]
    fn a_video_comes_from_one_place() {
        assert!(VideoSource::parse(None, None).is_err());
        assert!(VideoSource::parse(Some("abc123"), Some("http://x/a.mp4")).is_err());
        assert!(VideoSource::parse(Some("../etc"), None).is_err());
        assert!(VideoSource::parse(None, Some("file:///etc/passwd")).is_err());
        assert!(VideoSource::parse(None, Some("javascript:alert(1)")).is_err());
        assert_eq!(
            VideoSource::parse(Some(" abc123 "), None).unwrap(),
            VideoSource::Upload("abc123".into())
        );
        assert!(matches!(
            VideoSource::parse(None, Some("https://example.org/film.mp4")).unwrap(),
            VideoSource::Url(_)
        ));
    }
}

/// A subtitle language as stored: a two-letter code where one exists (ISO 639-1), else the
/// three-letter one; `und` when unknown. Matroska and MP4 tag tracks with three letters.
pub fn subtitle_language(raw: &str) -> Result<String, AppError> {
    let code = raw.trim().to_ascii_lowercase();
    if !(2..=3).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(AppError::Invalid(Invalid::SubtitlesFile));
    }
    Ok(match code.as_str() {
        "rus" => "ru",
        "eng" => "en",
        "ukr" => "uk",
        "deu" | "ger" => "de",
        "fra" | "fre" => "fr",
        "spa" => "es",
        "ita" => "it",
        "jpn" => "ja",
        "chi" | "zho" => "zh",
        "pol" => "pl",
        "por" => "pt",
        "kaz" => "kk",
        "bel" => "be",
        other => other,
    }
    .to_owned())
}

#[cfg(test)]
mod language_tests {
    use super::subtitle_language;

    #[test]
    fn track_languages_become_two_letters() {
        assert_eq!(subtitle_language("rus").unwrap(), "ru");
        assert_eq!(subtitle_language(" EN ").unwrap(), "en");
        assert_eq!(subtitle_language("und").unwrap(), "und");
        assert!(subtitle_language("../x").is_err());
        assert!(subtitle_language("english").is_err());
    }
}
