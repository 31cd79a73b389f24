//! The repro engine against a minimal C `connect()` loop (and the same
//! loop reading each source port, as the engine does), built with the
//! system's C compiler.

use std::process::Command;

use super::BIN;

const C_LOOP: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
/* The minimal reuse loop: one socket, connect() again and again; with a
   third argument it also reads the source port after each attempt, as the
   engine must to count parities and show the ticker. */
int main(int argc, char **argv) {
    int port = atoi(argv[1]); double secs = atof(argv[2]); int name = argc > 3;
    struct sockaddr_in me; socklen_t len; long even = 0;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);
    long n = 0;
    for (;;) {
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) break;
        n++;
        if (name) {
            len = sizeof me;
            getsockname(s, (struct sockaddr *)&me, &len);
            even += (ntohs(me.sin_port) % 2 == 0);
        }
        if ((n & 1023) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= secs) break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%ld %f %ld\n", n, n / el, even);
    return 0;
}
"#;

pub fn repro_vs_c(secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("loop.c");
    let exe = dir.path().join("loop");
    std::fs::write(&src, C_LOOP).unwrap();
    let cc = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status();
    if !cc.is_ok_and(|s| s.success()) {
        println!("Repro: skipped, no C compiler (cc) to build the reference loop");
        return;
    }
    // An odd port in the range (its low end, 1024, is even) that nothing
    // listens on: a plain connect() loop never lands on it,
    // so both loops run the whole time.
    let port = "40003";
    let mut c_rates = Vec::new();
    let mut c_named_rates = Vec::new();
    let mut our_rates = Vec::new();
    let c_loop = |extra: &[&str]| {
        let out = Command::new(&exe)
            .args([port, &secs.to_string()])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .and_then(|r| r.parse::<f64>().ok())
    };
    for _ in 0..3 {
        c_rates.extend(c_loop(&[]));
        c_named_rates.extend(c_loop(&["name"]));
        let out = Command::new(BIN)
            .args([
                "repro",
                "--mode",
                "reuse",
                "--port",
                port,
                "--max-time",
                &secs.to_string(),
                "--json",
            ])
            .output()
            .unwrap();
        match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            Ok(v) => {
                if let Some(r) = v["attempts_per_sec"].as_f64() {
                    our_rates.push(r);
                }
            }
            Err(_) => println!(
                "Repro: could not read `repro --json` output: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (c, c_named, ours) = (
        med(&mut c_rates),
        med(&mut c_named_rates),
        med(&mut our_rates),
    );
    println!("## Repro engine, `reuse` mode, {secs} s runs, median of 3");
    println!();
    println!("| loop | attempts/s | ratio |");
    println!("|---|---|---|");
    println!("| minimal C `connect()` loop | {c:.0} | 1.00x |");
    println!(
        "| the C loop reading each source port (`getsockname`), as the engine does | {c_named:.0} | {:.2}x |",
        if c > 0.0 { c_named / c } else { 0.0 }
    );
    println!(
        "| `selfconn-tui repro --mode reuse` | {ours:.0} | {:.2}x |",
        if c > 0.0 { ours / c } else { 0.0 }
    );
    println!();
}
