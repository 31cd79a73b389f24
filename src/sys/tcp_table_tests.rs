use super::*;

const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

fn row(i: usize) -> String {
    format!(
        "{i:4}: 0100007F:{:04X} 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 {} 1 0000000000000000 20 4 30 10 -1\n",
        1024 + i,
        100_000 + i
    )
}

fn read(text: &[u8]) -> (Option<Vec<SocketEntry>>, Vec<ScanError>) {
    let mut errors = vec![];
    let rows = read_tcp_text(text, Family::Ipv4, "t", Extent::All, &mut errors);
    (rows, errors)
}

#[test]
fn parses_ipv4_rows_including_a_self_connect() {
    let text = format!(
        "{HEADER}\n   0: 0100007F:AE38 0100007F:AE38 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1\n   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n"
    );
    let (rows, errors) = read(text.as_bytes());
    let rows = rows.unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].local.to_string(), "127.0.0.1:44600");
    assert!(rows[0].is_self_connected());
    assert_eq!(rows[0].inode, 12345);
    assert_eq!(rows[1].state, TcpState::Listen);
    assert_eq!(rows[1].local.port(), 22);
}

#[test]
fn a_big_table_is_read_in_pieces_and_line_numbers_stay_right() {
    let mut text = format!("{HEADER}\n");
    let rows = 6000; // about 900 KB: two pieces
    let bad = 4500;
    for i in 0..rows {
        if i == bad {
            text.push_str("   x: garbled\n");
        } else {
            text.push_str(&row(i));
        }
    }
    assert!(text.len() > CHUNK);
    let (got, errors) = read(text.as_bytes());
    let got = got.unwrap();
    assert_eq!(got.len(), rows - 1);
    assert_eq!(got[0].local.port(), 1024);
    assert_eq!(got.last().unwrap().inode, 100_000 + rows as u64 - 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    // The header is line 1, row i is line i + 2.
    assert_eq!(errors[0].source, format!("t line {}", bad + 2));
    assert!(errors[0].message.contains("2 fields"), "{errors:?}");
}

#[test]
fn garbled_rows_are_described_in_our_words() {
    let good = row(0);
    let cases = [
        (
            good.replace("0100007F:0400", "0100007G:0400"),
            "local address \"0100007G:0400\"",
        ),
        (
            good.replace("0100007F:0016", "0100007F:10000"),
            "remote address",
        ),
        (
            good.replace(" 01 ", " 0D "),
            "the state \"0D\" is not a TCP state",
        ),
        (
            good.replace("00000000:00000000", "00000000"),
            "the queues \"00000000\"",
        ),
        (
            good.replace("00000000     0        0", "00000000    -1        0"),
            "the uid \"-1\"",
        ),
        (good.replace(" 100000 ", " x "), "the inode \"x\""),
        (
            "   1: a b\n".to_string(),
            "3 fields where a row has at least 10",
        ),
    ];
    for (line, want) in cases {
        let (rows, errors) = read(format!("{HEADER}\n{good}{line}").as_bytes());
        assert_eq!(rows.unwrap().len(), 1, "{line}");
        assert_eq!(errors.len(), 1, "{line}: {errors:?}");
        let m = &errors[0].message;
        assert!(m.contains(want), "{line}: {m}");
        assert!(!m.contains("Internal") && !m.contains('\n'), "{m}");
    }
}

#[test]
fn many_unreadable_rows_are_counted_not_listed() {
    let mut text = format!("{HEADER}\n");
    for _ in 0..25 {
        text.push_str("   9: garbage\n");
    }
    text.push_str(&row(1));
    let (rows, errors) = read(text.as_bytes());
    assert_eq!(rows.unwrap().len(), 1);
    assert_eq!(errors.len(), MAX_ROW_WARNINGS + 1, "{errors:?}");
    assert_eq!(
        errors[MAX_ROW_WARNINGS].message,
        "and 15 more unreadable rows skipped"
    );
    assert!(errors.iter().all(|e| !e.is_error()));
}

#[test]
fn rows_without_one_readable_is_an_error_and_an_empty_table_is_not() {
    let (rows, errors) = read(format!("{HEADER}\n   1: junk\n\x00\x01\x02\n").as_bytes());
    assert_eq!(rows.unwrap().len(), 0);
    let last = errors.last().unwrap();
    assert!(last.is_error() && last.message.contains("no row could be read (of 2)"));
    let (rows, errors) = read(format!("{HEADER}\n\n").as_bytes());
    assert_eq!((rows.unwrap().len(), errors.len()), (0, 0));
    let (rows, errors) = read(b"");
    assert_eq!((rows.unwrap().len(), errors.len()), (0, 0));
}

#[test]
fn the_header_is_recognised_by_its_words() {
    let (rows, errors) = read(format!("{}{}", row(0), row(1)).as_bytes());
    assert_eq!(rows.unwrap().len(), 2, "the first row is kept");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].source, "t line 1");
    assert!(errors[0].message.contains("no header line"));
    // An IPv6 header, with its other spacing.
    let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    let (rows, errors) = read(v6.as_bytes());
    assert_eq!((rows.unwrap().len(), errors.len()), (0, 0));
}

#[test]
fn long_lines_and_endless_files_end() {
    // A line one byte over the bound, between two rows.
    let text = format!(
        "{HEADER}\n{}{}\n{}",
        row(0),
        "x".repeat(MAX_LINE + 1),
        row(1)
    );
    let (rows, errors) = read(text.as_bytes());
    assert_eq!(rows.unwrap().len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].source, "t line 3");
    assert!(errors[0].message.contains("4,097 bytes long"), "{errors:?}");
    // A line of exactly the bound is still read (and found unreadable).
    let text = format!("{HEADER}\n{}\n", "y".repeat(MAX_LINE));
    let (_, errors) = read(text.as_bytes());
    assert!(errors[0].message.contains("1 fields"), "{errors:?}");

    // Empty lines, however many, are no rows.
    let mut errors = vec![];
    let rows = read_tcp_text(
        std::io::repeat(b'\n').take(10_000),
        Family::Ipv4,
        "t",
        Extent::All,
        &mut errors,
    );
    assert_eq!((rows.unwrap().len(), errors.len()), (0, 0));
}

#[test]
fn a_missing_file_is_none() {
    let mut errors = vec![];
    let path = Path::new("/nonexistent/tcp");
    assert!(read_tcp_file(path, Family::Ipv4, Extent::All, &mut errors).is_none());
    assert_eq!(errors[0].message, "not found");
}

#[test]
fn a_listeners_only_read_stops_at_the_first_connection() {
    let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 101 1 0 100 0 0 10 0
   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 102 1 0 100 0 0 10 0
   2: 0100007F:AE48 0100007F:AE48 01 00000000:00000000 00:00000000 00000000  1000        0 103 1 0 20 4 30 10 -1
this line is never read, or it would be reported
";
    let mut errors = vec![];
    let rows = read_tcp_text(
        text.as_bytes(),
        Family::Ipv4,
        "t",
        Extent::Listeners,
        &mut errors,
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.state == TcpState::Listen));
    assert!(errors.is_empty(), "{errors:?}");
    // Read whole, the same text has its connection and its bad line.
    let rows = read_tcp_text(text.as_bytes(), Family::Ipv4, "t", Extent::All, &mut errors).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn state_fields_are_told_apart() {
    let row =
        |st: &str| format!("   0: 00000000:9C40 00000000:0000 {st} 00000000:00000000 00:00000000");
    assert!(!is_connection(row("0A").as_bytes()));
    assert!(!is_connection(row("0a").as_bytes()));
    assert!(is_connection(row("01").as_bytes()));
    assert!(is_connection(row("06").as_bytes()));
    assert!(
        !is_connection(row("03").as_bytes()),
        "old kernels list SYN_RECV with listeners"
    );
    assert!(!is_connection(
        b"  sl  local_address rem_address   st tx_queue"
    ));
    assert!(
        !is_connection(row("zz").as_bytes()),
        "unreadable: read, and reported"
    );
    assert!(!is_connection(b"0: short"));
}
