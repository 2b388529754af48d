//! Where natschat-tui signs in and connects: defaults, then the config file
//! (`~/.config/natschat/config.toml`), then environment variables, then
//! command-line flags; a later source wins.
//!
//! ```toml
//! issuer = "http://127.0.0.1:8080/realms/nats-chat"
//! client_id = "natschat-tui"
//! nats_url = "nats://127.0.0.1:4222"
//! insecure_file_store = false
//! allow_insecure_http = false
//!
//! [profiles.prod]
//! issuer = "https://sso.example.org/realms/nats-chat"
//! nats_url = "tls://nats.example.org:4222"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080/realms/nats-chat";
pub const DEFAULT_CLIENT_ID: &str = "natschat-tui";
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The settings natschat-tui runs with, every source merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub profile: String,
    /// The Keycloak realm's issuer URL, as it appears in tokens.
    pub issuer: String,
    pub client_id: String,
    pub nats_url: String,
    /// Whether tokens may go to a plain 0600 file when no Secret Service
    /// answers. Off unless someone says so.
    pub insecure_file_store: bool,
    /// Whether a plain http:// issuer on another computer is acceptable.
    /// Off unless someone says so; http:// on this computer always is.
    pub allow_insecure_http: bool,
    /// Where logins and (with the file store) tokens are kept.
    pub state_dir: PathBuf,
    /// The config file consulted, whether or not it exists.
    pub config_file: Option<PathBuf>,
}

/// Settings given on the command line; `None` leaves the choice to the
/// sources below.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub nats_url: Option<String>,
    pub insecure_file_store: bool,
    pub allow_insecure_http: bool,
}

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The causes are part of the message and deliberately not error
    // sources: a printed error chain would repeat them.
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} is not valid: {cause}")]
    Parse {
        path: PathBuf,
        cause: Box<toml::de::Error>,
    },
    #[error(
        "'{name}' is not a usable profile name{}: use 1 to 64 letters, digits, '-' or '_'",
        in_file(.path)
    )]
    BadProfileName { name: String, path: Option<PathBuf> },
    #[error("profile '{profile}' is not in {path} (it has: {known})")]
    UnknownProfile {
        profile: String,
        path: PathBuf,
        known: String,
    },
    #[error("{name}={value} is not a yes/no value (use true or false)")]
    NotABool { name: String, value: String },
    #[error("neither XDG_STATE_HOME nor HOME is set, so there is no place for natschat's state")]
    NoHome,
}

/// One layer of settings in the config file: the top level or a profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    issuer: Option<String>,
    client_id: Option<String>,
    nats_url: Option<String>,
    insecure_file_store: Option<bool>,
    allow_insecure_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(flatten)]
    top: FileLayer,
    #[serde(default)]
    profiles: BTreeMap<String, FileLayer>,
    /// The chat's own table (bell, colours, keys); `ui::ChatSettings`
    /// reads it from `Config::config_file`.
    #[serde(default, rename = "chat")]
    _chat: Option<toml::Table>,
}

impl Config {
    /// Merges defaults, the config file, the process environment and
    /// `flags`.
    pub fn load(flags: &Overrides) -> Result<Config, ConfigError> {
        Config::resolve(flags, &|name| std::env::var(name).ok())
    }

    /// Like [`Config::load`] with the environment given as a lookup, so the
    /// order of precedence can be checked without touching the process.
    pub fn resolve(
        flags: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let profile = flags
            .profile
            .clone()
            .or_else(|| env("NATSCHAT_PROFILE"))
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
        check_profile_name(&profile, None)?;
        let path = flags
            .config_file
            .clone()
            .or_else(|| env("NATSCHAT_CONFIG").map(PathBuf::from))
            .or_else(|| config_home(env).map(|dir| dir.join("natschat").join("config.toml")));

        let mut config = Config {
            profile: profile.clone(),
            issuer: DEFAULT_ISSUER.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            nats_url: DEFAULT_NATS_URL.to_owned(),
            insecure_file_store: false,
            allow_insecure_http: false,
            state_dir: state_home(env).ok_or(ConfigError::NoHome)?.join("natschat"),
            config_file: path.clone(),
        };

        let file = match &path {
            Some(path) => read_config_file(path)?,
            None => None,
        };
        match file {
            Some(file) => {
                // Profile names become file names under the state folder.
                for name in file.profiles.keys() {
                    check_profile_name(name, path.as_deref())?;
                }
                config.apply(&file.top);
                match file.profiles.get(&profile) {
                    Some(layer) => config.apply(layer),
                    None if profile == DEFAULT_PROFILE => {}
                    None => return Err(unknown_profile(&profile, path, &file.profiles)),
                }
            }
            None if profile != DEFAULT_PROFILE => {
                return Err(unknown_profile(&profile, path, &BTreeMap::new()));
            }
            None => {}
        }

        config.apply(&FileLayer {
            issuer: env("NATSCHAT_ISSUER"),
            client_id: env("NATSCHAT_CLIENT_ID"),
            nats_url: env("NATS_URL"),
            insecure_file_store: env("NATSCHAT_INSECURE_FILE_STORE")
                .map(|value| parse_bool("NATSCHAT_INSECURE_FILE_STORE", &value))
                .transpose()?,
            allow_insecure_http: env("NATSCHAT_ALLOW_INSECURE_HTTP")
                .map(|value| parse_bool("NATSCHAT_ALLOW_INSECURE_HTTP", &value))
                .transpose()?,
        });

        config.apply(&FileLayer {
            issuer: flags.issuer.clone(),
            client_id: flags.client_id.clone(),
            nats_url: flags.nats_url.clone(),
            // A flag can only switch the opt-in on; turning it off is what
            // leaving the flag out means.
            insecure_file_store: flags.insecure_file_store.then_some(true),
            allow_insecure_http: flags.allow_insecure_http.then_some(true),
        });
        config.issuer = config.issuer.trim_end_matches('/').to_owned();
        Ok(config)
    }

    fn apply(&mut self, layer: &FileLayer) {
        if let Some(v) = &layer.issuer {
            self.issuer.clone_from(v);
        }
        if let Some(v) = &layer.client_id {
            self.client_id.clone_from(v);
        }
        if let Some(v) = &layer.nats_url {
            self.nats_url.clone_from(v);
        }
        if let Some(v) = layer.insecure_file_store {
            self.insecure_file_store = v;
        }
        if let Some(v) = layer.allow_insecure_http {
            self.allow_insecure_http = v;
        }
    }
}

fn read_config_file(path: &Path) -> Result<Option<ConfigFile>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                cause: source,
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|cause| ConfigError::Parse {
            path: path.to_owned(),
            cause: Box::new(cause),
        })
}

/// Refuses profile names that are not plain words: a profile name becomes
/// a file name under the state folder, so `../x` would escape it.
fn check_profile_name(name: &str, path: Option<&Path>) -> Result<(), ConfigError> {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        Ok(())
    } else {
        Err(ConfigError::BadProfileName {
            name: name.to_owned(),
            path: path.map(Path::to_owned),
        })
    }
}

fn in_file(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!(" (in {})", path.display()),
        None => String::new(),
    }
}

fn unknown_profile(
    profile: &str,
    path: Option<PathBuf>,
    profiles: &BTreeMap<String, FileLayer>,
) -> ConfigError {
    let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
    ConfigError::UnknownProfile {
        profile: profile.to_owned(),
        path: path.unwrap_or_else(|| PathBuf::from("the config file")),
        known: if known.is_empty() {
            "no profiles".to_owned()
        } else {
            known.join(", ")
        },
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::NotABool {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
    }
}

fn config_home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    xdg_dir(env, "XDG_CONFIG_HOME", ".config")
}

fn state_home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    xdg_dir(env, "XDG_STATE_HOME", ".local/state")
}

/// An XDG base directory: the variable when it holds an absolute path (the
/// specification says to ignore relative ones), else the default under HOME.
fn xdg_dir(
    env: &dyn Fn(&str) -> Option<String>,
    variable: &str,
    under_home: &str,
) -> Option<PathBuf> {
    env(variable)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(under_home)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn config_dir(test: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("natschat-config-{}-{test}", std::process::id()));
        std::fs::create_dir_all(dir.join("natschat")).unwrap();
        std::fs::write(dir.join("natschat/config.toml"), text).unwrap();
        dir
    }

    #[test]
    fn defaults_point_at_the_local_stack() {
        let config =
            Config::resolve(&Overrides::default(), &env_of(&[("HOME", "/home/a")])).unwrap();
        assert_eq!(config.issuer, DEFAULT_ISSUER);
        assert_eq!(config.client_id, "natschat-tui");
        assert_eq!(config.nats_url, "nats://127.0.0.1:4222");
        assert!(!config.insecure_file_store);
        assert_eq!(
            config.state_dir,
            PathBuf::from("/home/a/.local/state/natschat")
        );
    }

    #[test]
    fn flags_beat_environment_which_beats_the_file() {
        let dir = config_dir(
            "precedence",
            "issuer = \"http://file/realms/r\"\nclient_id = \"from-file\"\nnats_url = \"nats://file:1\"\n",
        );
        let env = env_of(&[
            ("HOME", "/home/a"),
            ("XDG_CONFIG_HOME", dir.to_str().unwrap()),
            ("NATSCHAT_CLIENT_ID", "from-env"),
            ("NATS_URL", "nats://env:2"),
        ]);
        let flags = Overrides {
            nats_url: Some("nats://flag:3".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(&flags, &env).unwrap();
        assert_eq!(config.issuer, "http://file/realms/r");
        assert_eq!(config.client_id, "from-env");
        assert_eq!(config.nats_url, "nats://flag:3");
    }

    #[test]
    fn a_profile_overlays_the_top_level_of_the_file() {
        let dir = config_dir(
            "profile",
            "client_id = \"top\"\ninsecure_file_store = true\n[profiles.prod]\nissuer = \"https://sso/realms/chat/\"\n",
        );
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", dir.to_str().unwrap())]);
        let flags = Overrides {
            profile: Some("prod".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(&flags, &env).unwrap();
        assert_eq!(config.profile, "prod");
        assert_eq!(config.issuer, "https://sso/realms/chat");
        assert_eq!(config.client_id, "top");
        assert!(config.insecure_file_store);
    }

    #[test]
    fn an_unknown_profile_is_an_error_naming_the_known_ones() {
        let dir = config_dir("unknown", "[profiles.prod]\n[profiles.staging]\n");
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", dir.to_str().unwrap())]);
        let flags = Overrides {
            profile: Some("typo".into()),
            ..Overrides::default()
        };
        let err = Config::resolve(&flags, &env).unwrap_err().to_string();
        assert!(
            err.contains("typo") && err.contains("prod, staging"),
            "{err}"
        );
    }

    #[test]
    fn file_store_opt_in_from_the_environment_must_be_a_boolean() {
        let env = env_of(&[("HOME", "/h"), ("NATSCHAT_INSECURE_FILE_STORE", "maybe")]);
        assert!(Config::resolve(&Overrides::default(), &env).is_err());
        let env = env_of(&[("HOME", "/h"), ("NATSCHAT_INSECURE_FILE_STORE", "1")]);
        assert!(
            Config::resolve(&Overrides::default(), &env)
                .unwrap()
                .insecure_file_store
        );
    }

    #[test]
    fn profile_names_that_are_not_plain_words_are_refused() {
        let dir = config_dir("escape", "[profiles.\"../../x\"]\n");
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", dir.to_str().unwrap())]);
        let err = Config::resolve(&Overrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'../../x' is not a usable profile name"),
            "{err}"
        );

        let env = env_of(&[("HOME", "/h")]);
        for name in ["../x", "a/b", "", "ü", &"p".repeat(65)] {
            let flags = Overrides {
                profile: Some(name.to_owned()),
                ..Overrides::default()
            };
            assert!(
                matches!(
                    Config::resolve(&flags, &env),
                    Err(ConfigError::BadProfileName { .. })
                ),
                "{name}"
            );
        }
        let dir = config_dir("plain", "[profiles.Prod_2-eu]\n");
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", dir.to_str().unwrap())]);
        let flags = Overrides {
            profile: Some("Prod_2-eu".to_owned()),
            ..Overrides::default()
        };
        assert_eq!(Config::resolve(&flags, &env).unwrap().profile, "Prod_2-eu");
    }

    #[test]
    fn a_config_error_names_its_cause_once() {
        let dir = config_dir("garbage", "issuer = \n");
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", dir.to_str().unwrap())]);
        let err = Config::resolve(&Overrides::default(), &env).unwrap_err();
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(shown.matches("TOML parse error").count(), 1, "{shown}");

        // A folder where the file should be.
        let flags = Overrides {
            config_file: Some(dir.clone()),
            ..Overrides::default()
        };
        let err = Config::resolve(&flags, &env).unwrap_err();
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(shown.matches("os error").count(), 1, "{shown}");
    }

    #[test]
    fn plain_http_elsewhere_is_allowed_only_when_asked() {
        let env = env_of(&[("HOME", "/h")]);
        assert!(
            !Config::resolve(&Overrides::default(), &env)
                .unwrap()
                .allow_insecure_http
        );
        let env = env_of(&[("HOME", "/h"), ("NATSCHAT_ALLOW_INSECURE_HTTP", "true")]);
        assert!(
            Config::resolve(&Overrides::default(), &env)
                .unwrap()
                .allow_insecure_http
        );
    }
}
