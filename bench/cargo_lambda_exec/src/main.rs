//! `relayfloor COMMAND ARGS...`: replaces itself with COMMAND (the runtime
//! under test), keeping the environment cargo-lambda set
//! (AWS_LAMBDA_RUNTIME_API=http://host:port/.rt/relayfloor).
use std::os::unix::process::CommandExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: relayfloor COMMAND [ARGS...]");
        std::process::exit(2);
    }
    let err = std::process::Command::new(&args[0]).args(&args[1..]).exec();
    eprintln!("relayfloor: cannot run {:?}: {}", args, err);
    std::process::exit(127);
}
