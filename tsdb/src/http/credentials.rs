//! Reading credentials the ways 1.x and 2.x clients send them.

use axum::http::HeaderMap;
use base64::Engine;

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
        if let Some(b64) = value.strip_prefix("Basic ") {
            if let Some((user, password)) = base64::engine::general_purpose::STANDARD
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
    }
    match (u, p) {
        (Some(user), Some(password)) if !password.is_empty() => Credentials::Password {
            user: user.into(),
            password: password.into(),
        },
        _ => Credentials::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
