//! `tigk`: the server binary. Each subcommand lives in `commands/`; this file only parses
//! arguments and sets up logging.

mod commands;

/// jemalloc fragments less than glibc's malloc with a large catalog and gives freed pages
/// back on its own; see the note in Cargo.toml.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tigk",
    version,
    about = "tigk: a small, fast observability stack (store, alerter, UI)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start everything locally on 127.0.0.1 with data in ./tigk-data (first start creates
    /// an admin user and prints its password).
    Up(commands::up::UpArgs),
    /// Run the server (InfluxDB 1.x API) on the given address.
    Serve(commands::serve::ServeCli),
    /// Print a commented default configuration file for `tigk serve --config`.
    Config,
    /// Check a configuration file, and that the data directory's stored tasks compile.
    Validate(commands::config::ValidateArgs),
    /// Copy a running (or stopped) server's databases into a directory, consistently.
    Backup(commands::backup::BackupArgs),
    /// Restore a backup into an empty data directory (the server must be stopped).
    Restore(commands::backup::RestoreArgs),
    /// Manage users (works offline, also while a server runs).
    #[command(subcommand)]
    User(commands::admin::UserCommand),
    /// Manage API tokens (works offline, also while a server runs).
    #[command(subcommand)]
    Token(commands::admin::TokenCommand),
    /// Test TICKscripts offline, or manage a server's alert tasks.
    #[command(subcommand)]
    Task(commands::task::TaskCommand),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TIGK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Up(args) => commands::up::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Config => commands::config::print_default(),
        Command::Validate(args) => commands::config::validate(args),
        Command::Backup(args) => commands::backup::backup(args),
        Command::Restore(args) => commands::backup::restore(args),
        Command::User(cmd) => commands::admin::user(cmd),
        Command::Token(cmd) => commands::admin::token(cmd),
        Command::Task(cmd) => commands::task::run(cmd),
    }
}
