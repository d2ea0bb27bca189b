//! Offline administration: users and tokens, straight in the store's file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tsdb::auth::{self, TokenScope};

#[derive(Args, Debug)]
pub struct DataDir {
    /// Directory holding the store.
    #[arg(long, default_value = "./tigk-data", env = "TIGK_DATA_DIR")]
    pub data_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user, or reset an existing user's password.
    Create {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        name: String,
        /// The password (at least 8 characters); read from TIGK_PASSWORD if not given.
        #[arg(long, env = "TIGK_PASSWORD", hide_env_values = true)]
        password: String,
        /// Grant every privilege.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print it once (it is stored hashed).
    Create {
        #[command(flatten)]
        dir: DataDir,
        /// Restrict the token to one database (default: all).
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        read: bool,
        #[arg(long)]
        write: bool,
        #[arg(long)]
        admin: bool,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List tokens (without their secrets).
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        dir: DataDir,
        id: i64,
    },
}

pub fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            dir,
            name,
            password,
            admin,
        } => {
            let conn = tsdb::storage::admin_connection(&dir.data_dir)?;
            auth::create_user(&conn, &name, &password, admin).context("creating the user")?;
            println!("user {name:?} saved{}", if admin { " (admin)" } else { "" });
        }
    }
    Ok(())
}

pub fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            dir,
            db,
            read,
            write,
            admin,
            description,
        } => {
            if !(read || write || admin) {
                bail!("a token needs at least one of --read, --write, --admin");
            }
            let conn = tsdb::storage::admin_connection(&dir.data_dir)?;
            let scope = TokenScope {
                database: db,
                can_read: read,
                can_write: write,
                admin,
            };
            let token = auth::create_token(&conn, &description, &scope)?;
            println!("{token}");
        }
        TokenCommand::List { dir } => {
            let conn = tsdb::storage::admin_connection(&dir.data_dir)?;
            for t in auth::list_tokens(&conn)? {
                let s = &t.scope;
                println!(
                    "{}\t{}\tdb={}\tread={}\twrite={}\tadmin={}",
                    t.id,
                    t.description,
                    s.database.as_deref().unwrap_or("*"),
                    s.can_read,
                    s.can_write,
                    s.admin
                );
            }
        }
        TokenCommand::Revoke { dir, id } => {
            let conn = tsdb::storage::admin_connection(&dir.data_dir)?;
            if !auth::revoke_token(&conn, id)? {
                bail!("no token with id {id}");
            }
            println!("token {id} revoked");
        }
    }
    Ok(())
}

/// A password for generated accounts: 24 URL-safe characters.
pub fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
