//! `tigk up`: the one command that starts the whole stack locally.
//!
//! For now it runs the store on 127.0.0.1:8086 with authentication on; on the first start
//! it creates an `admin` user and prints the password once (also saved, readable only by
//! the owner, in the data directory so a newcomer cannot lock themselves out).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::serve::{Durability, ServeArgs};

#[derive(Args, Debug)]
pub struct UpArgs {
    #[arg(long, default_value = "127.0.0.1:8086")]
    pub bind: SocketAddr,
    #[arg(long, default_value = "./tigk-data")]
    pub data_dir: PathBuf,
}

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let conn = tsdb::storage::admin_connection(&args.data_dir)?;
    let password_file = args.data_dir.join("admin-password");
    if !tsdb::auth::has_admin(&conn)? {
        let password = super::admin::random_password();
        tsdb::auth::create_user(&conn, "admin", &password, true)?;
        write_private(&password_file, &password)?;
        println!("Created user 'admin' with password: {password}");
        println!("(saved in {})", password_file.display());
    } else if password_file.exists() {
        println!(
            "Log in as 'admin'; the password is in {}",
            password_file.display()
        );
    }
    drop(conn);
    println!(
        "InfluxDB 1.x API on http://{} (data in {})",
        args.bind,
        args.data_dir.display()
    );
    super::serve::run(ServeArgs {
        bind: args.bind,
        data_dir: args.data_dir,
        no_auth: false,
        durability: Durability::Full,
    })
}

fn write_private(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{content}")?;
    Ok(())
}
