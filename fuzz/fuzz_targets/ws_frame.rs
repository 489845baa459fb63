//! The room channel's text frames: anything a client sends goes through `ClientMsg::parse`
//! before the server acts on it, so no input may panic it. A message it accepts must also
//! survive the trip the WASM client makes (serialize, then parse again): accepted again, and
//! the same message up to the last bit of a float (serde_json's default float parser is
//! best-effort and may land one ULP away from its own shortest output).
#![no_main]

use app::rooms::protocol::{ClientMsg, MAX_FRAME_BYTES};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    // A websocket text frame is UTF-8 by definition (axum refuses anything else).
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(msg) = ClientMsg::parse(frame) else {
        return;
    };
    let _ = msg.is_control();
    let again = serde_json::to_string(&msg).expect("an accepted message serializes");
    if again.len() > MAX_FRAME_BYTES {
        return;
    }
    let back = ClientMsg::parse(&again)
        .unwrap_or_else(|e| panic!("{again} was accepted once, then refused: {e:?}"));
    let (a, b) = (
        serde_json::to_value(&msg).unwrap(),
        serde_json::to_value(&back).unwrap(),
    );
    assert!(same(&a, &b), "{msg:?} came back as {back:?}");
});
