//! The routes of the demo target, with no I/O: an imitation of the article's heart-disease model API.
//!
//! The "model" is a fixed linear score over the 13 UCI features, invented for load testing: it is
//! deterministic and cheap, and it is not medicine. Beside `/predict` it has the other routes
//! the scenarios in `scenarios/` use (as `scripts/model-api/` serves them on the Python
//! frameworks): `POST /login` (a token and a session cookie), `POST /batch` and `POST /image`,
//! so a scenario's client cost can be measured against a server that costs almost nothing.

use std::borrow::Cow;

use serde_json::Value;

/// The JSON fields `POST /predict` requires, in the order they are checked.
pub const FEATURES: [&str; 13] = [
    "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak",
    "slope", "ca", "thal",
];

/// Per feature (same order as [`FEATURES`]): a weight and a centre near the UCI mean.
/// The score is the sum of `weight * (value - centre)`; a positive score means "heart-disease".
const SCORE: [(f64, f64); 13] = [
    (0.03, 54.0),   // age
    (0.6, 0.7),     // sex
    (-0.5, 1.0),    // cp
    (0.01, 131.0),  // trestbps
    (0.003, 246.0), // chol
    (0.1, 0.15),    // fbs
    (0.2, 0.5),     // restecg
    (-0.03, 150.0), // thalach
    (0.9, 0.33),    // exang
    (0.6, 1.0),     // oldpeak
    (-0.4, 1.4),    // slope
    (0.7, 0.7),     // ca
    (0.5, 2.3),     // thal
];

pub const TEXT: &str = "text/plain";
pub const JSON: &str = "application/json";

/// What a route answers: everything the wire encoder needs besides connection handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// The `Allow` header, sent with 405.
    pub allow: Option<&'static str>,
    /// A `Set-Cookie` header (`POST /login`).
    pub set_cookie: Option<&'static str>,
    pub body: Cow<'static, [u8]>,
}

/// What `POST /login` answers: the same token and session for everyone (a demo).
pub const LOGIN_BODY: &[u8] = br#"{"access_token":"blast-demo-token","token_type":"bearer"}"#;
pub const LOGIN_COOKIE: &str = "sid=blast-demo-session; Path=/; HttpOnly";

impl Response {
    fn fixed(status: u16, content_type: &'static str, body: &'static [u8]) -> Self {
        Response {
            status,
            content_type,
            allow: None,
            set_cookie: None,
            body: Cow::Borrowed(body),
        }
    }

    fn not_allowed(allow: &'static str) -> Self {
        Response {
            allow: Some(allow),
            ..Response::fixed(405, JSON, br#"{"error":"method not allowed"}"#)
        }
    }

    fn json_error(status: u16, message: &str) -> Self {
        Response::json(status, &serde_json::json!({ "error": message }))
    }

    fn json(status: u16, doc: &Value) -> Self {
        Response {
            status,
            content_type: JSON,
            allow: None,
            set_cookie: None,
            body: Cow::Owned(doc.to_string().into_bytes()),
        }
    }

    /// A fixed JSON error for requests rejected before routing (bad framing, limits).
    pub(crate) fn rejected(status: u16, body: &'static [u8]) -> Self {
        Response::fixed(status, JSON, body)
    }
}

/// Routes one request. `path` is the request target as sent; a query string is ignored.
pub fn respond(method: &str, path: &str, body: &[u8]) -> Response {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    match (path, method) {
        ("/health", "GET") => Response::fixed(200, TEXT, b"OK"),
        ("/health", _) => Response::not_allowed("GET"),
        ("/predict", "POST") => predict(body),
        ("/login", "POST") => Response {
            set_cookie: Some(LOGIN_COOKIE),
            ..Response::fixed(200, JSON, LOGIN_BODY)
        },
        ("/batch", "POST") => batch(body),
        ("/image", "POST") => image(body),
        ("/predict" | "/login" | "/batch" | "/image", _) => Response::not_allowed("POST"),
        _ => Response::fixed(404, JSON, br#"{"error":"not found"}"#),
    }
}

fn predict(body: &[u8]) -> Response {
    match features(body) {
        Ok(values) if score(&values) > 0.0 => {
            Response::fixed(200, JSON, br#"{"diagnosis":"heart-disease"}"#)
        }
        Ok(_) => Response::fixed(200, JSON, br#"{"diagnosis":"no-disease"}"#),
        Err(message) => Response::json_error(400, &message),
    }
}

/// `{"instances": [rows]}`: a diagnosis per row, or the first row's problem.
fn batch(body: &[u8]) -> Response {
    let doc = match serde_json::from_slice::<Value>(body) {
        Ok(doc) => doc,
        Err(e) => return Response::json_error(400, &format!("malformed JSON: {e}")),
    };
    let Some(rows) = doc.get("instances").and_then(Value::as_array) else {
        return Response::json_error(400, "body must be {\"instances\": [rows]}");
    };
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match row_features(row) {
            Ok(values) => out.push(Value::from(score(&values) > 0.0)),
            Err(m) => return Response::json_error(400, &format!("instances[{i}]: {m}")),
        }
    }
    Response::json(200, &serde_json::json!({ "predictions": out }))
}

/// A `multipart/form-data` upload: its size back (the parts are not decoded).
fn image(body: &[u8]) -> Response {
    if !body.starts_with(b"--") {
        return Response::json_error(400, "body must be multipart/form-data");
    }
    Response::json(200, &serde_json::json!({ "bytes": body.len() }))
}

/// Reads the features from a JSON object body, or says what is wrong with it.
fn features(body: &[u8]) -> Result<[f64; 13], String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    row_features(&doc)
}

/// The features of one JSON object.
fn row_features(doc: &Value) -> Result<[f64; 13], String> {
    let object = doc
        .as_object()
        .ok_or_else(|| "body must be a JSON object".to_string())?;
    let mut values = [0.0; 13];
    for (slot, name) in values.iter_mut().zip(FEATURES) {
        let value = object
            .get(name)
            .ok_or_else(|| format!("missing field: {name}"))?;
        *slot = value
            .as_f64()
            .ok_or_else(|| format!("field {name} must be a number"))?;
    }
    Ok(values)
}

fn score(values: &[f64; 13]) -> f64 {
    values
        .iter()
        .zip(SCORE)
        .map(|(x, (weight, centre))| weight * (x - centre))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISKY: &str = r#"{"age":70,"sex":1,"cp":0,"trestbps":160,"chol":330,"fbs":1,"restecg":1,
        "thalach":100,"exang":1,"oldpeak":3.5,"slope":0,"ca":3,"thal":3}"#;
    const HEALTHY: &str = r#"{"age":35,"sex":0,"cp":2,"trestbps":110,"chol":190,"fbs":0,"restecg":0,
        "thalach":185,"exang":0,"oldpeak":0.0,"slope":2,"ca":0,"thal":2}"#;

    fn body_text(r: &Response) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    fn without(field: &str) -> String {
        let mut doc: serde_json::Map<String, Value> = serde_json::from_str(HEALTHY).unwrap();
        assert!(doc.remove(field).is_some(), "{field} not in sample");
        Value::Object(doc).to_string()
    }

    #[test]
    fn health_is_plain_ok() {
        let r = respond("GET", "/health", b"");
        assert_eq!((r.status, r.content_type, body_text(&r)), (200, TEXT, "OK"));
        assert!(
            matches!(r.body, Cow::Borrowed(_)),
            "health must not allocate"
        );
    }

    #[test]
    fn predict_is_deterministic_and_reaches_both_answers() {
        for (input, want) in [
            (RISKY, r#"{"diagnosis":"heart-disease"}"#),
            (HEALTHY, r#"{"diagnosis":"no-disease"}"#),
        ] {
            for _ in 0..2 {
                let r = respond("POST", "/predict", input.as_bytes());
                assert_eq!((r.status, r.content_type, body_text(&r)), (200, JSON, want));
            }
        }
    }

    #[test]
    fn extra_fields_are_ignored() {
        let input = HEALTHY.replacen('{', r#"{"note":"x","#, 1);
        assert_eq!(respond("POST", "/predict", input.as_bytes()).status, 200);
    }

    #[test]
    fn each_missing_field_is_named() {
        for field in FEATURES {
            let r = respond("POST", "/predict", without(field).as_bytes());
            assert_eq!(r.status, 400, "{field}");
            let doc: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(doc["error"], format!("missing field: {field}"));
        }
    }

    #[test]
    fn bad_bodies_are_400_with_a_reason() {
        let wrong_type = HEALTHY.replace(r#""chol":190"#, r#""chol":"190""#);
        let null_field = HEALTHY.replace(r#""ca":0"#, r#""ca":null"#);
        let cases: [(&str, &str); 6] = [
            (&wrong_type, "field chol must be a number"),
            (&null_field, "field ca must be a number"),
            ("{\"age\": 5", "malformed JSON"),
            ("", "malformed JSON"),
            ("\u{7f}not json", "malformed JSON"),
            ("[1,2,3]", "body must be a JSON object"),
        ];
        for (input, reason) in cases {
            let r = respond("POST", "/predict", input.as_bytes());
            assert_eq!((r.status, r.content_type), (400, JSON), "{input}");
            let doc: Value = serde_json::from_slice(&r.body).unwrap();
            let message = doc["error"].as_str().unwrap();
            assert!(message.starts_with(reason), "{input}: {message}");
        }
    }

    #[test]
    fn routing_table() {
        let cases = [
            ("GET", "/health", 200, None),
            ("GET", "/health?probe=1", 200, None),
            ("POST", "/health", 405, Some("GET")),
            ("HEAD", "/health", 405, Some("GET")),
            ("GET", "/predict", 405, Some("POST")),
            ("DELETE", "/predict", 405, Some("POST")),
            ("GET", "/login", 405, Some("POST")),
            ("GET", "/batch", 405, Some("POST")),
            ("PUT", "/image", 405, Some("POST")),
            ("GET", "/", 404, None),
            ("GET", "/healthz", 404, None),
            ("POST", "/predict/", 404, None),
            ("GET", "*", 404, None),
        ];
        for (method, path, status, allow) in cases {
            let r = respond(method, path, b"");
            assert_eq!((r.status, r.allow), (status, allow), "{method} {path}");
        }
    }

    #[test]
    fn login_gives_a_token_and_a_session_cookie() {
        let r = respond("POST", "/login", b"{}");
        assert_eq!((r.status, r.set_cookie), (200, Some(LOGIN_COOKIE)));
        let doc: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(doc["access_token"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(
            respond("POST", "/predict", RISKY.as_bytes()).set_cookie,
            None
        );
    }

    #[test]
    fn batch_answers_a_prediction_per_row_or_names_the_bad_row() {
        let body = format!(r#"{{"instances":[{RISKY},{HEALTHY},{RISKY}]}}"#);
        let r = respond("POST", "/batch", body.as_bytes());
        assert_eq!(r.status, 200, "{}", body_text(&r));
        let doc: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc["predictions"], serde_json::json!([true, false, true]));
        let bad = format!(r#"{{"instances":[{RISKY},{{"age":1}}]}}"#);
        let r = respond("POST", "/batch", bad.as_bytes());
        assert_eq!(r.status, 400);
        assert!(
            body_text(&r).contains("instances[1]: missing field: sex"),
            "{}",
            body_text(&r)
        );
        assert_eq!(respond("POST", "/batch", b"[]").status, 400);
    }

    #[test]
    fn image_takes_a_multipart_body_and_answers_its_size() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nxyz\r\n--b--\r\n";
        let r = respond("POST", "/image", body);
        assert_eq!(r.status, 200);
        assert_eq!(body_text(&r), format!(r#"{{"bytes":{}}}"#, body.len()));
        assert_eq!(respond("POST", "/image", b"{}").status, 400);
    }
}
