//! Users and tokens: who may read and write which database.
//!
//! Passwords are stored as Argon2id hashes. Tokens are 256-bit random secrets, so a plain
//! SHA-256 of them is enough to store (nothing to brute-force) and cheap to check on every
//! write. Because Argon2 is deliberately slow, successful password checks are cached for
//! a short while, keyed by a SHA-256 of the credentials, never by the password itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

/// Why a request was not let in. The texts are InfluxDB 1.x's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("unable to parse authentication credentials")]
    MissingCredentials,
    #[error("authorization failed")]
    Failed,
    #[error("error authorizing query: create admin user first or disable authentication")]
    NoAdmin,
    #[error("{0}")]
    Forbidden(String),
    #[error("auth storage: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for AuthError {
    fn from(e: rusqlite::Error) -> Self {
        AuthError::Storage(e.to_string())
    }
}

/// Credentials as a client presented them.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    None,
    /// HTTP Basic or the `u`/`p` query parameters. The password may be a token, which is
    /// how 1.x-only clients (Telegraf's influxdb output, the influx CLI) carry one.
    Password {
        user: String,
        password: String,
    },
    /// `Authorization: Token <t>`.
    Token(String),
}

/// What an authenticated caller may do.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub name: String,
    pub admin: bool,
    /// `None`: every database.
    pub database: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
}

impl Principal {
    /// Used when authentication is disabled (loopback only).
    pub fn anonymous_admin() -> Principal {
        Principal {
            name: "anonymous".into(),
            admin: true,
            database: None,
            can_read: true,
            can_write: true,
        }
    }

    fn covers(&self, db: &str) -> bool {
        self.admin || self.database.as_deref().is_none_or(|d| d == db)
    }

    pub fn authorize_write(&self, db: &str) -> Result<(), AuthError> {
        if self.admin || (self.can_write && self.covers(db)) {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "\"{}\" user is not authorized to write to database \"{db}\"",
            self.name
        )))
    }

    pub fn authorize_read(&self, db: &str) -> Result<(), AuthError> {
        if self.admin || (self.can_read && self.covers(db)) {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "\"{}\" user is not authorized to read from database \"{db}\"",
            self.name
        )))
    }

    pub fn authorize_admin(&self) -> Result<(), AuthError> {
        if self.admin {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "error authorizing query: {} not authorized to execute statement, requires admin privilege",
            self.name
        )))
    }
}

/// What a new token may do.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenScope {
    pub database: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
    pub admin: bool,
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: i64,
    pub description: String,
    pub scope: TokenScope,
    pub created_ns: i64,
}

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;
const TOKEN_PREFIX: &str = "tigk_";

/// Checks credentials against the users and tokens in the store's database file.
pub struct Authenticator {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
    cache: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
}

impl Authenticator {
    /// `db_path` is the store's SQLite file (`Store::dir()/tigk.db`).
    pub fn new(db_path: PathBuf) -> Authenticator {
        Authenticator {
            path: db_path,
            conn: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| AuthError::Storage("lock poisoned".into()))?;
        if guard.is_none() {
            let c = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            c.busy_timeout(Duration::from_secs(5))?;
            *guard = Some(c);
        }
        match guard.as_ref() {
            Some(c) => f(c),
            None => Err(AuthError::Storage("no connection".into())),
        }
    }

    /// Resolves credentials to a principal. Blocking (Argon2, SQLite): call it from
    /// `spawn_blocking` on async paths when the cache may miss.
    pub fn authenticate(&self, creds: &Credentials) -> Result<Principal, AuthError> {
        let (token, user, password) = match creds {
            Credentials::None => {
                return Err(if self.with_conn(has_admin)? {
                    AuthError::MissingCredentials
                } else {
                    AuthError::NoAdmin
                });
            }
            Credentials::Token(t) => (Some(t.as_str()), None, None),
            Credentials::Password { user, password } => {
                (None, Some(user.as_str()), Some(password.as_str()))
            }
        };
        if let Some(t) = token.or(password.filter(|p| p.starts_with(TOKEN_PREFIX))) {
            return self.with_conn(|c| principal_for_token(c, t)?.ok_or(AuthError::Failed));
        }
        let (Some(user), Some(password)) = (user, password) else {
            return Err(AuthError::MissingCredentials);
        };
        let key = cache_key(user, password);
        if let Ok(cache) = self.cache.lock()
            && let Some((p, at)) = cache.get(&key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(p.clone());
        }
        let principal = self.with_conn(|c| {
            if !has_admin(c)? {
                return Err(AuthError::NoAdmin);
            }
            verify_user(c, user, password)
        })?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }
}

fn cache_key(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize().into()
}

pub fn has_admin(conn: &Connection) -> Result<bool, AuthError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM users WHERE admin = 1", [], |r| {
        r.get(0)
    })?;
    Ok(n > 0)
}

fn verify_user(conn: &Connection, user: &str, password: &str) -> Result<Principal, AuthError> {
    let row: Option<(String, bool)> = conn
        .query_row(
            "SELECT password_hash, admin FROM users WHERE name = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((hash, admin)) = row else {
        // Spend the same time as a real check so user names cannot be probed by timing.
        let _ = hash_password("timing-equaliser");
        return Err(AuthError::Failed);
    };
    let parsed = PasswordHash::new(&hash).map_err(|e| AuthError::Storage(e.to_string()))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| AuthError::Failed)?;
    Ok(Principal {
        name: user.to_string(),
        admin,
        database: None,
        // Non-admin users get read access everywhere and no writes, until grants exist.
        can_read: true,
        can_write: admin,
    })
}

fn principal_for_token(conn: &Connection, token: &str) -> Result<Option<Principal>, AuthError> {
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    Ok(conn
        .query_row(
            "SELECT id, description, db, can_read, can_write, admin FROM tokens WHERE token_hash = ?1",
            [&hash[..]],
            |r| {
                Ok(Principal {
                    name: format!("token {} ({})", r.get::<_, i64>(0)?, r.get::<_, String>(1)?),
                    database: r.get(2)?,
                    can_read: r.get(3)?,
                    can_write: r.get(4)?,
                    admin: r.get(5)?,
                })
            },
        )
        .optional()?)
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| AuthError::Storage(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Storage(e.to_string()))
}

/// Creates or replaces a user (offline CLI and the UI's user admin).
pub fn create_user(
    conn: &Connection,
    name: &str,
    password: &str,
    admin: bool,
) -> Result<(), AuthError> {
    if name.is_empty() || password.len() < 8 {
        return Err(AuthError::Forbidden(
            "a user needs a name and a password of at least 8 characters".into(),
        ));
    }
    let hash = hash_password(password)?;
    conn.execute(
        "INSERT INTO users (name, password_hash, admin) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash, admin = excluded.admin",
        (name, hash, admin),
    )?;
    Ok(())
}

/// Users and whether each is an admin, by name.
pub fn list_users(conn: &Connection) -> Result<Vec<(String, bool)>, AuthError> {
    let mut stmt = conn.prepare("SELECT name, admin FROM users ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Changes an existing user's password.
pub fn set_password(conn: &Connection, name: &str, password: &str) -> Result<(), AuthError> {
    if password.len() < 8 {
        return Err(AuthError::Forbidden(
            "a password needs at least 8 characters".into(),
        ));
    }
    let hash = hash_password(password)?;
    if conn.execute(
        "UPDATE users SET password_hash = ?1 WHERE name = ?2",
        (hash, name),
    )? == 0
    {
        return Err(AuthError::Forbidden("user not found".into()));
    }
    Ok(())
}

pub fn drop_user(conn: &Connection, name: &str) -> Result<(), AuthError> {
    if conn.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
        return Err(AuthError::Forbidden("user not found".into()));
    }
    Ok(())
}

/// Creates a token and returns its secret, which is not stored and cannot be shown again.
pub fn create_token(
    conn: &Connection,
    description: &str,
    scope: &TokenScope,
) -> Result<String, AuthError> {
    let mut secret = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut secret);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = crate::storage::now_ns();
    conn.execute(
        "INSERT INTO tokens (token_hash, description, db, can_read, can_write, admin, created_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (
            &hash[..],
            description,
            &scope.database,
            scope.can_read,
            scope.can_write,
            scope.admin,
            now,
        ),
    )?;
    Ok(token)
}

pub fn list_tokens(conn: &Connection) -> Result<Vec<TokenInfo>, AuthError> {
    let mut stmt =
        conn.prepare("SELECT id, description, db, can_read, can_write, admin, created_ns FROM tokens ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(TokenInfo {
            id: r.get(0)?,
            description: r.get(1)?,
            scope: TokenScope {
                database: r.get(2)?,
                can_read: r.get(3)?,
                can_write: r.get(4)?,
                admin: r.get(5)?,
            },
            created_ns: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn revoke_token(conn: &Connection, id: i64) -> Result<bool, AuthError> {
    Ok(conn.execute("DELETE FROM tokens WHERE id = ?1", [id])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions};

    fn setup() -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        store.shutdown();
        let path = dir.path().join(crate::storage::DB_FILE);
        let conn = Connection::open(&path).expect("conn");
        (dir, path, conn)
    }

    #[test]
    fn no_admin_then_users_and_tokens() {
        let (_dir, path, conn) = setup();
        let auth = Authenticator::new(path);
        assert_eq!(
            auth.authenticate(&Credentials::None),
            Err(AuthError::NoAdmin)
        );
        create_user(&conn, "admin", "correct horse", true).expect("user");
        assert_eq!(
            auth.authenticate(&Credentials::None),
            Err(AuthError::MissingCredentials)
        );
        let ok = auth
            .authenticate(&Credentials::Password {
                user: "admin".into(),
                password: "correct horse".into(),
            })
            .expect("login");
        assert!(ok.admin);
        let bad = auth.authenticate(&Credentials::Password {
            user: "admin".into(),
            password: "wrong horse".into(),
        });
        assert_eq!(bad, Err(AuthError::Failed));

        let scope = TokenScope {
            database: Some("telegraf".into()),
            can_read: false,
            can_write: true,
            admin: false,
        };
        let token = create_token(&conn, "agent", &scope).expect("token");
        let p = auth
            .authenticate(&Credentials::Token(token.clone()))
            .expect("token auth");
        assert!(p.authorize_write("telegraf").is_ok());
        assert!(p.authorize_write("other").is_err());
        assert!(p.authorize_read("telegraf").is_err());
        // A token given as a 1.x password works too.
        let p2 = auth
            .authenticate(&Credentials::Password {
                user: "whatever".into(),
                password: token,
            })
            .expect("token as password");
        assert_eq!(p, p2);
        let id = list_tokens(&conn).expect("list")[0].id;
        assert!(revoke_token(&conn, id).expect("revoke"));
        assert_eq!(
            auth.authenticate(&Credentials::Token("tigk_nope".into())),
            Err(AuthError::Failed)
        );
    }
}
