//! `papermap completions SHELL`: a completion script for the shell, from the same argument
//! definitions as `--help`.

/// `papermap completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Writes the script to stdout.
pub fn run<C: clap::CommandFactory>(args: Args) -> anyhow::Result<()> {
    let mut cmd = C::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "papermap", &mut out);
    Ok(())
}
