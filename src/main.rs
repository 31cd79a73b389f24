//! The binary: everything is in the library; the command line starts in
//! `selfconn_tui::cli::main`.

fn main() -> std::process::ExitCode {
    selfconn_tui::cli::main()
}
