//! `papermap serve`: the local explorer and API over one index.

use std::net::SocketAddr;
use std::path::PathBuf;

use papermap::serve::{serve, ServeOptions};

use super::options::ModelOpts;
use super::options::DEFAULT_INDEX;

/// `papermap serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    /// Address to listen on; port 0 picks a free one (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A host name requests may use besides IP addresses and localhost (repeatable); any other
    /// Host header is refused, so that a web page cannot reach the server through DNS rebinding.
    #[arg(long, value_name = "NAME")]
    allow_host: Vec<String>,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs the server until Ctrl-C.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {}: anyone who can reach this machine can search this index \
             and use its model; use 127.0.0.1 to keep it local",
            args.addr
        );
    }
    // The index's own model and numeric mode, checked as every command that embeds does.
    let (encoder, backend) =
        papermap::workspace::Workspace::open(&args.index, &args.model.choice()?)?.into_encoder()?;
    serve(
        ServeOptions {
            dir: args.index.clone(),
            addr: args.addr,
            allow_hosts: args.allow_host.clone(),
            backend,
        },
        encoder,
        |addr| {
            if output.json {
                println!(
                    "{}",
                    serde_json::json!({ "listening": format!("http://{addr}") })
                );
            } else {
                println!("listening on http://{addr}");
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
        },
    )?;
    Ok(())
}
