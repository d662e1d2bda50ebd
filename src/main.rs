//! The command-line program. Everything numeric lives in the library; this file only turns
//! the process's arguments into a call and an error into a one-line message and exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    // `args()` panics on an argument that is not UTF-8 (`--out $'out\xff'`); read them as
    // the OS gives them and refuse such an argument in one line.
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string().map_err(|a| {
                deepcluster::Error::invalid(
                    "arguments",
                    format!("{} is not valid UTF-8", a.to_string_lossy()),
                )
            })
        })
        .collect();
    match args.and_then(|args| deepcluster::cli::main(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
