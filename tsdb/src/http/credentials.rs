//! Reading credentials the ways 1.x and 2.x clients send them.

use axum::http::HeaderMap;
use base64::Engine;

use super::ApiError;
use crate::auth::Credentials;

/// `Authorization: Token t`, then Basic auth, then the `u`/`p` query parameters.
pub fn from_request(headers: &HeaderMap, u: Option<&str>, p: Option<&str>) -> Credentials {
    if let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        if let Some(t) = value
            .strip_prefix("Token ")
            .or_else(|| value.strip_prefix("Bearer "))
        {
            let t = t.trim();
            // 1.8 accepts `Token user:password`; keep that form working too.
            if let Some((user, password)) = t.split_once(':').filter(|_| !t.starts_with("tigk_")) {
                return Credentials::Password {
                    user: user.into(),
                    password: password.into(),
                };
            }
            return Credentials::Token(t.to_string());
        }
        if let Some(b64) = value.strip_prefix("Basic ")
            && let Some((user, password)) = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|s| {
                    s.split_once(':')
                        .map(|(u, p)| (u.to_string(), p.to_string()))
                })
        {
            return Credentials::Password { user, password };
        }
    }
    match (u, p) {
        (Some(user), Some(password)) if !password.is_empty() => Credentials::Password {
            user: user.into(),
            password: password.into(),
        },
        _ => Credentials::None,
    }
}

/// `application/x-www-form-urlencoded` pairs (form bodies and query strings), decoded as
/// strictly as Go's `url.ParseQuery`: a malformed escape is an error, not kept verbatim.
pub fn url_pairs(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("form body is not UTF-8".into()))?;
    let mut pairs = Vec::new();
    for part in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((percent_decode(k)?, percent_decode(v)?));
    }
    Ok(pairs)
}

fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::BadRequest("invalid percent-encoding in form body".into())
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::BadRequest("form body is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn url_pairs_decode_strictly() {
        let pairs = url_pairs(b"u=ad+min&p=p%40ss%21&flag").expect("pairs");
        assert_eq!(
            pairs,
            vec![
                ("u".to_string(), "ad min".to_string()),
                ("p".to_string(), "p@ss!".to_string()),
                ("flag".to_string(), String::new())
            ]
        );
        assert!(url_pairs(b"p=%zz").is_err());
        assert!(url_pairs(b"p=%4").is_err());
    }

    #[test]
    fn reads_every_form() {
        let mut h = HeaderMap::new();
        assert_eq!(from_request(&h, None, None), Credentials::None);
        assert!(matches!(
            from_request(&h, Some("a"), Some("b")),
            Credentials::Password { .. }
        ));
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic YWRtaW46c2VjcmV0"),
        );
        assert_eq!(
            from_request(&h, None, None),
            Credentials::Password {
                user: "admin".into(),
                password: "secret".into()
            }
        );
        h.insert("authorization", HeaderValue::from_static("Token tigk_abc"));
        assert_eq!(
            from_request(&h, None, None),
            Credentials::Token("tigk_abc".into())
        );
    }
}
