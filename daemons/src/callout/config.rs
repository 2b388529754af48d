//! Configuration of `natschatd auth-callout`: flags with environment
//! fallbacks, checked once at start.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use jsonwebtoken::{Algorithm, AlgorithmFamily};

use crate::config::{ConnectionArgs, LoginNames};
use crate::keys::{ISSUER_SEED_FILE, XKEY_SEED_FILE};

/// Flags of `natschatd auth-callout`.
#[derive(Debug, Clone, Args)]
pub struct CalloutArgs {
    /// NATS server, the AUTH account's callout user, its password, and the
    /// metrics endpoint.
    #[command(flatten)]
    pub connection: ConnectionArgs<CalloutLogin>,
    /// Keycloak's base URL.
    #[arg(long, env = "KEYCLOAK_URL", default_value = "http://127.0.0.1:8080")]
    pub keycloak_url: String,
    /// Keycloak realm whose tokens are accepted.
    #[arg(long, env = "KEYCLOAK_REALM", default_value = "nats-chat")]
    pub realm: String,
    /// Folder holding `issuer.nk` and `xkey.xk`.
    #[arg(long, env = "NATSCHAT_KEY_DIR")]
    pub key_dir: Option<PathBuf>,
    /// Account signing seed file (overrides the key folder; fits systemd
    /// `LoadCredential=`).
    #[arg(long)]
    pub issuer_seed_file: Option<PathBuf>,
    /// Curve seed file (overrides the key folder).
    #[arg(long)]
    pub xkey_seed_file: Option<PathBuf>,
    /// Audience an access token must name.
    #[arg(long, default_value = "nats-chat")]
    pub audience: String,
    /// Keycloak clients (`azp`) whose tokens are accepted.
    #[arg(
        long = "allowed-client",
        value_delimiter = ',',
        default_value = "nats-chat-app,natschat-tui"
    )]
    pub allowed_clients: Vec<String>,
    /// Token signature algorithms accepted (RSA, PSS, ECDSA, EdDSA only).
    #[arg(long = "allowed-alg", value_delimiter = ',', default_value = "RS256")]
    pub allowed_algs: Vec<String>,
    /// Clock skew tolerated on token `exp`/`nbf`, in seconds.
    #[arg(long, default_value_t = 5)]
    pub leeway_secs: u64,
    /// Tokens longer than this many bytes are refused unparsed.
    #[arg(long, default_value_t = 16 * 1024)]
    pub max_token_bytes: usize,
    /// Longest lifetime of an issued user JWT, in seconds; it never outlives
    /// the access token.
    #[arg(long, default_value_t = 3600)]
    pub max_user_jwt_secs: u64,
    /// Also grant plain `_INBOX.>` for browser clients that cannot set an
    /// inbox prefix (any such user can then read others' replies).
    #[arg(long)]
    pub compat_shared_inbox: bool,
    /// Accept requests the server did not seal with xkeys.
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// NATS account users are placed in (the user JWT's `aud`).
    #[arg(long, default_value = "CHAT")]
    pub user_account: String,
    /// Queue group shared by all callout instances.
    #[arg(long, default_value = "natschat-auth-callout")]
    pub queue_group: String,
    /// How often the realm keys are refetched, in seconds.
    #[arg(long, default_value_t = 300)]
    pub jwks_refresh_secs: u64,
    /// Least time between refetches caused by unknown key ids, in seconds.
    #[arg(long, default_value_t = 10)]
    pub jwks_min_refetch_secs: u64,
    /// How long to wait for Keycloak at start before giving up, in seconds.
    #[arg(long, default_value_t = 120)]
    pub keycloak_wait_secs: u64,
}

/// The callout's login flags: `--callout-user`, `--callout-password`.
#[derive(Debug, Clone)]
pub struct CalloutLogin;

impl LoginNames for CalloutLogin {
    const WHO: &'static str = "the callout (in the AUTH account)";
    const USER_FLAG: &'static str = "callout-user";
    const USER_ENV: &'static str = "NATSCHAT_CALLOUT_USER";
    const DEFAULT_USER: &'static str = "natschat-callout";
    const PASSWORD_FLAG: &'static str = "callout-password";
    const PASSWORD_ENV: &'static str = "NATSCHAT_CALLOUT_PASSWORD";
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no key folder: set NATSCHAT_KEY_DIR or --key-dir, or pass both --issuer-seed-file and --xkey-seed-file"
    )]
    NoKeys,
    #[error("unknown token algorithm {0:?} in --allowed-alg")]
    UnknownAlgorithm(String),
    #[error(
        "token algorithm {0} is symmetric; only asymmetric algorithms can be allowed (a realm's public key must never double as an HMAC secret)"
    )]
    SymmetricAlgorithm(String),
    #[error("--allowed-alg is empty")]
    NoAlgorithm,
    #[error("--allowed-client is empty")]
    NoClient,
}

impl CalloutArgs {
    /// Paths of the issuer and xkey seeds.
    pub fn seed_files(&self) -> Result<(PathBuf, PathBuf), ConfigError> {
        let issuer = self
            .issuer_seed_file
            .clone()
            .or_else(|| self.key_dir.as_ref().map(|d| d.join(ISSUER_SEED_FILE)));
        let xkey = self
            .xkey_seed_file
            .clone()
            .or_else(|| self.key_dir.as_ref().map(|d| d.join(XKEY_SEED_FILE)));
        issuer.zip(xkey).ok_or(ConfigError::NoKeys)
    }

    /// The accepted algorithms; refuses `none`-like names and HMAC.
    pub fn algorithms(&self) -> Result<Vec<Algorithm>, ConfigError> {
        let mut algorithms = Vec::new();
        for name in self
            .allowed_algs
            .iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty())
        {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| ConfigError::UnknownAlgorithm(name.to_owned()))?;
            if alg.family() == AlgorithmFamily::Hmac {
                return Err(ConfigError::SymmetricAlgorithm(name.to_owned()));
            }
            algorithms.push(alg);
        }
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        Ok(algorithms)
    }

    /// The realm's issuer URL as it appears in tokens.
    pub fn issuer(&self) -> String {
        format!(
            "{}/realms/{}",
            self.keycloak_url.trim_end_matches('/'),
            self.realm
        )
    }

    /// The realm's JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/protocol/openid-connect/certs", self.issuer())
    }

    pub fn max_user_jwt(&self) -> Duration {
        Duration::from_secs(self.max_user_jwt_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CalloutArgs,
    }

    fn parse(extra: &[&str]) -> CalloutArgs {
        let mut argv = vec!["natschatd", "--callout-password", "p", "--key-dir", "/k"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).args
    }

    #[test]
    fn defaults_accept_rs256_from_the_two_natschat_clients() {
        let args = parse(&[]);
        assert_eq!(args.algorithms().unwrap(), [Algorithm::RS256]);
        assert_eq!(args.allowed_clients, ["nats-chat-app", "natschat-tui"]);
        assert_eq!(
            args.seed_files().unwrap(),
            (PathBuf::from("/k/issuer.nk"), PathBuf::from("/k/xkey.xk"))
        );
    }

    #[test]
    fn refuses_hmac_and_none() {
        assert!(matches!(
            parse(&["--allowed-alg", "RS256,HS256"]).algorithms(),
            Err(ConfigError::SymmetricAlgorithm(_))
        ));
        assert!(matches!(
            parse(&["--allowed-alg", "none"]).algorithms(),
            Err(ConfigError::UnknownAlgorithm(_))
        ));
    }

    #[test]
    fn explicit_seed_files_override_the_folder() {
        let args = parse(&[
            "--issuer-seed-file",
            "/c/issuer",
            "--xkey-seed-file",
            "/c/xkey",
        ]);
        assert_eq!(
            args.seed_files().unwrap(),
            (PathBuf::from("/c/issuer"), PathBuf::from("/c/xkey"))
        );
    }
}
