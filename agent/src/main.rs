//! `tigk-agent`: argument handling only; everything else is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

const USAGE: &str = "\
tigk-agent: collect host metrics and send them to tigk or InfluxDB 1.x

Usage:
  tigk-agent [--config FILE] [--test | --once] [--debug]
  tigk-agent [--config FILE] validate     check the configuration and exit
  tigk-agent config                       print a sample configuration

Options:
  --config FILE   configuration file [default: /etc/tigk/agent.toml]
  --test          gather once, print line protocol to stdout, write nothing
  --once          gather once, flush the outputs once, exit (non-zero if a write failed)
  --debug         verbose logging
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("E! {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut config = PathBuf::from("/etc/tigk/agent.toml");
    let (mut test, mut once, mut debug) = (false, false, false);
    let mut command = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-config" => config = args.next().context("--config needs a file")?.into(),
            "--test" | "-test" => test = true,
            "--once" | "-once" => once = true,
            "--debug" | "-debug" => debug = true,
            "-h" | "--help" | "help" => {
                print!("{USAGE}");
                return Ok(());
            }
            "--version" | "version" => {
                println!("tigk-agent {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "config" | "validate" if command.is_none() => command = Some(arg),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if command.as_deref() == Some("config") {
        print!("{}", agent::SAMPLE_CONFIG);
        return Ok(());
    }
    let mut cfg = agent::validate::load(&config)?;
    if command.as_deref() == Some("validate") {
        println!(
            "{}: ok ({} inputs, {} outputs)",
            config.display(),
            cfg.inputs.len(),
            cfg.outputs.len()
        );
        return Ok(());
    }
    cfg.agent.debug |= debug;
    if test {
        agent::log::set_quiet(true);
        let mut stdout = std::io::stdout().lock();
        return Ok(agent::pipeline::Agent::new(cfg)?.test(&mut stdout)?);
    }
    let a = agent::pipeline::Agent::new(cfg)?;
    if once {
        return Ok(a.once()?);
    }
    let shutdown = agent::pipeline::Shutdown::new();
    agent::pipeline::handle_signals(shutdown.clone())?;
    Ok(a.run(shutdown)?)
}
