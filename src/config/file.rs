//! Reading the TOML file: every section and key is checked against the
//! settings table, the colours and the key bindings, and anything wrong is
//! an error naming the file, the line and the key. Nothing is ignored.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::colours::{self, ColourSetting};
use super::keys::{self, KeySetting};
use super::settings::{self, Kind, SECTIONS, SETTINGS};
use super::{ConfigError, Origin};

/// A setting's value as written in the file, turned into the text a flag
/// would carry.
#[derive(Debug, Clone, PartialEq)]
pub struct FileValue {
    /// Index into [`SETTINGS`].
    pub setting: usize,
    pub text: String,
    pub line: usize,
}

/// A configuration file, read and checked.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub values: Vec<FileValue>,
    pub colours: Vec<ColourSetting>,
    pub keys: Vec<KeySetting>,
}

impl ConfigFile {
    pub fn value(&self, setting: usize) -> Option<&FileValue> {
        self.values.iter().find(|v| v.setting == setting)
    }

    /// An error at `line`, about `key`.
    pub fn error(&self, line: usize, key: &str, message: impl Into<String>) -> ConfigError {
        error_at(&self.path, Some(line), key, message)
    }
}

fn error_at(
    path: &Path,
    line: Option<usize>,
    key: &str,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError {
        origin: Origin::File {
            path: path.to_path_buf(),
            line,
        },
        key: (!key.is_empty()).then(|| key.to_string()),
        message: message.into(),
    }
}

/// Reads and checks the file at `path`.
pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| error_at(path, None, "", format!("cannot read it: {e}")))?;
    parse(path, &text)
}

/// Checks `text`, the contents of the file at `path`.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let line_of = |span: std::ops::Range<usize>| line_at(text, span.start);
    let doc = DeTable::parse(text).map_err(|e| {
        let line = e.span().map(&line_of);
        // A duplicate key's span is the key: name it.
        let key = e
            .span()
            .and_then(|s| text.get(s))
            .filter(|k| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
            .unwrap_or("");
        error_at(path, line, key, e.message().trim().to_string())
    })?;
    let mut file = ConfigFile {
        path: path.to_path_buf(),
        ..ConfigFile::default()
    };
    for (name, value) in doc.get_ref() {
        let line = line_of(name.span());
        let section = name.get_ref().as_ref();
        let DeValue::Table(table) = value.get_ref() else {
            return Err(file.error(
                line,
                section,
                format!(
                    "settings go in sections: [{}], [colours] or [keys]",
                    SECTIONS.join("], [")
                ),
            ));
        };
        match section {
            "colours" => {
                for (k, v) in table {
                    let l = line_of(k.span());
                    let key = format!("colours.{}", k.get_ref());
                    let spec = as_text(v, Kind::Text).map_err(|m| file.error(l, &key, m))?;
                    let c = colours::parse_entry(k.get_ref(), &spec, l)
                        .map_err(|m| file.error(l, &key, m))?;
                    file.colours.push(c);
                }
            }
            "keys" => {
                for (k, v) in table {
                    let l = line_of(k.span());
                    let key = format!("keys.{}", k.get_ref());
                    let names = key_list(v).map_err(|m| file.error(l, &key, m))?;
                    let entry = keys::parse_entry(k.get_ref(), &names, l)
                        .map_err(|m| file.error(l, &key, m))?;
                    file.keys.push(entry);
                }
                keys::check(&file.keys).map_err(|(l, key, m)| file.error(l, &key, m))?;
            }
            s if SECTIONS.contains(&s) => read_section(&mut file, s, table, &line_of)?,
            other => {
                return Err(file.error(
                    line,
                    other,
                    format!(
                        "unknown section (expected one of: {}, colours, keys)",
                        SECTIONS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(file)
}

fn read_section(
    file: &mut ConfigFile,
    section: &str,
    table: &DeTable<'_>,
    line_of: &dyn Fn(std::ops::Range<usize>) -> usize,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let line = line_of(k.span());
        let name = format!("{section}.{}", k.get_ref());
        let Some(i) = settings::find(section, k.get_ref()) else {
            let known: Vec<&str> = SETTINGS
                .iter()
                .filter(|s| s.section == section)
                .map(|s| s.key)
                .collect();
            return Err(file.error(
                line,
                &name,
                format!("unknown key (expected one of: {})", known.join(", ")),
            ));
        };
        let text = as_text(v, SETTINGS[i].kind).map_err(|m| file.error(line, &name, m))?;
        file.values.push(FileValue {
            setting: i,
            text,
            line,
        });
    }
    Ok(())
}

/// A scalar as the text a flag would carry.
fn as_text(v: &Spanned<DeValue<'_>>, kind: Kind) -> Result<String, String> {
    let expected = match kind {
        Kind::Text => "a string",
        Kind::Number => "a number",
        Kind::Duration => "a duration (a number of seconds, or a string like \"500ms\")",
    };
    match v.get_ref() {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(n) => i128::from_str_radix(n.as_str(), n.radix())
            .map(|n| n.to_string())
            .map_err(|_| format!("{n} is out of range")),
        DeValue::Float(f) if kind != Kind::Text => Ok(f.to_string()),
        _ => Err(format!("expected {expected}")),
    }
}

/// `"k"` or `["k", "Ctrl-k"]`.
fn key_list(v: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    const WANT: &str = "expected a key (\"h\") or a list of keys ([\"h\", \"F1\"])";
    match v.get_ref() {
        DeValue::String(s) => Ok(vec![s.to_string()]),
        DeValue::Array(items) => items
            .iter()
            .map(|i| {
                i.get_ref()
                    .as_str()
                    .map(str::to_string)
                    .ok_or(WANT.to_string())
            })
            .collect(),
        _ => Err(WANT.to_string()),
    }
}

/// The 1-based line of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
