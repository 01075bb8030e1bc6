fn main() -> std::process::ExitCode {
    // args_os: a non-UTF-8 argument must not panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::ExitCode::from(vigil::cli::main(&args))
}
