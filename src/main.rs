fn main() -> std::process::ExitCode {
    selfconn_tui::cli::main()
}
