//! Time as Kino stores and shows it: milliseconds since the epoch, dates as people write them in
//! Russian and English, the player's clock. Base layer: used by every feature, uses none.

use crate::i18n::*;
use leptos::prelude::*;

/// Milliseconds since the epoch by the browser's clock (the server's own on the server).
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}

/// A date as people write it: `21.11.2026` in Russian, `Nov 21, 2026` in English (UTC).
pub fn date_text(ms: i64, locale: Locale) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
        return String::new();
    };
    let date = at.date();
    match locale {
        Locale::ru => format!(
            "{:02}.{:02}.{}",
            date.day(),
            u8::from(date.month()),
            date.year()
        ),
        _ => {
            let month = &format!("{}", date.month())[..3];
            format!("{month} {}, {}", date.day(), date.year())
        }
    }
}

/// A moment as "22.11.2026 17:00 UTC" (ru) or "Nov 22, 2026 17:00 UTC": what the server can
/// render without knowing the reader's time zone.
pub fn date_time_utc(ms: i64, locale: Locale) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
        return String::new();
    };
    format!(
        "{} {:02}:{:02} UTC",
        date_text(ms, locale),
        at.hour(),
        at.minute()
    )
}

/// The same moment in the browser's own time zone and language (`None` on the server).
pub fn date_time_local(ms: i64, locale: Locale) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use web_sys::wasm_bindgen::JsValue;
        let options = js_sys::Object::new();
        for (key, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
            js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value))
                .ok()?;
        }
        let tag = match locale {
            Locale::ru => "ru-RU",
            _ => "en-GB",
        };
        let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
        date.to_locale_string(tag, &options).as_string()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ms, locale);
        None
    }
}

/// A `<time>`: rendered in UTC on the server, then shown in the reader's own time zone once the
/// page runs in the browser (after hydration, so both renders agree first).
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let i18n = use_i18n();
    let local = RwSignal::new(None::<String>);
    Effect::new(move |_| local.set(date_time_local(ms, i18n.get_locale())));
    let iso = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            format!(
                "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
    view! {
        <time datetime=iso>
            {move || local.get().unwrap_or_else(|| date_time_utc(ms, i18n.get_locale()))}
        </time>
    }
}

/// A film position as players show it: `12:34`, or `1:02:03` past an hour.
pub fn clock(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_like_a_player() {
        assert_eq!(clock(754_000), "12:34");
        assert_eq!(clock(3_723_000), "1:02:03");
        assert_eq!(clock(2_400), "0:02");
    }

    #[test]
    fn dates_read_as_each_language_writes_them() {
        // 2026-11-21 17:05 UTC
        let ms = 1_795_280_700_000;
        assert_eq!(date_text(ms, Locale::ru), "21.11.2026");
        assert_eq!(date_text(ms, Locale::en), "Nov 21, 2026");
        assert_eq!(date_time_utc(ms, Locale::ru), "21.11.2026 17:05 UTC");
    }
}
