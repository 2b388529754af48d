//! What the daemons' configurations share: how a daemon logs in to NATS and
//! where it serves its metrics. The flags are the same for every daemon but
//! for the names of the user and password flags and their environment
//! variables, which each daemon gives through [`LoginNames`] (the stack
//! script and the service units set each daemon's own).

use std::marker::PhantomData;
use std::net::SocketAddr;

use clap::{Arg, ArgMatches};

use crate::metrics::{Metrics, MetricsError};

/// The names of one daemon's NATS login flags and their defaults.
pub trait LoginNames {
    /// Who logs in, for the help text (e.g. "the persist worker").
    const WHO: &'static str;
    /// Flag of the NATS user (e.g. `nats-user`).
    const USER_FLAG: &'static str;
    const USER_ENV: &'static str;
    const DEFAULT_USER: &'static str;
    /// Flag of the password (e.g. `nats-password`).
    const PASSWORD_FLAG: &'static str;
    const PASSWORD_ENV: &'static str;
}

/// A daemon's NATS login and metrics endpoint, flags with environment
/// fallbacks (flatten into the daemon's own flags).
#[derive(Debug, Clone)]
pub struct ConnectionArgs<N> {
    /// NATS server to connect to.
    pub nats_url: String,
    pub user: String,
    pub password: String,
    /// host:port for the Prometheus /metrics endpoint; none when unset.
    pub metrics_addr: Option<SocketAddr>,
    names: PhantomData<N>,
}

const NATS_URL: &str = "nats_url";
const USER: &str = "nats_user";
const PASSWORD: &str = "nats_password";
const METRICS_ADDR: &str = "metrics_addr";

impl<N: LoginNames> clap::Args for ConnectionArgs<N> {
    fn augment_args(command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new(NATS_URL)
                    .long("nats-url")
                    .value_name("NATS_URL")
                    .env("NATS_URL")
                    .default_value("nats://127.0.0.1:4222")
                    .help("NATS server to connect to"),
            )
            .arg(
                Arg::new(USER)
                    .long(N::USER_FLAG)
                    .value_name("USER")
                    .env(N::USER_ENV)
                    .default_value(N::DEFAULT_USER)
                    .help(format!("NATS user of {}", N::WHO)),
            )
            .arg(
                Arg::new(PASSWORD)
                    .long(N::PASSWORD_FLAG)
                    .value_name("PASSWORD")
                    .env(N::PASSWORD_ENV)
                    .hide_env_values(true)
                    .required(true)
                    .help("Its password (prefer the environment over the command line)"),
            )
            .arg(
                Arg::new(METRICS_ADDR)
                    .long("metrics-addr")
                    .value_name("METRICS_ADDR")
                    .env("NATSCHAT_METRICS_ADDR")
                    .value_parser(clap::value_parser!(SocketAddr))
                    .help("host:port for the Prometheus /metrics endpoint; none when unset"),
            )
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl<N> clap::FromArgMatches for ConnectionArgs<N> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let text = |id: &str| {
            matches.get_one::<String>(id).cloned().ok_or_else(|| {
                clap::Error::raw(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    format!("{id} is required"),
                )
            })
        };
        Ok(ConnectionArgs {
            nats_url: text(NATS_URL)?,
            user: text(USER)?,
            password: text(PASSWORD)?,
            metrics_addr: matches.get_one::<SocketAddr>(METRICS_ADDR).copied(),
            names: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<N> ConnectionArgs<N> {
    /// How the daemon logs in to NATS.
    pub fn nats_login(&self) -> NatsLogin<'_> {
        NatsLogin {
            url: &self.nats_url,
            user: &self.user,
            password: &self.password,
        }
    }

    /// The process's metric registry, served where the flags say.
    pub async fn metrics(&self) -> Result<Metrics, MetricsError> {
        metrics(self.metrics_addr).await
    }
}

/// A daemon's NATS login, as its flags give it.
#[derive(Debug, Clone, Copy)]
pub struct NatsLogin<'a> {
    pub url: &'a str,
    pub user: &'a str,
    pub password: &'a str,
}

/// Why a daemon could not connect to NATS.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot connect to NATS at {url} as {user}: {source}; is nats-server running? `./dev status` shows the stack"
)]
pub struct NatsConnectError {
    url: String,
    user: String,
    source: async_nats::ConnectError,
}

impl NatsLogin<'_> {
    /// Connects with this user and password; `options` carries the rest
    /// (the connection's name, retrying the first connect). The client keeps
    /// reconnecting for good once connected: a daemon outlives server
    /// restarts.
    pub async fn connect(
        &self,
        options: async_nats::ConnectOptions,
    ) -> Result<async_nats::Client, NatsConnectError> {
        options
            .user_and_password(self.user.to_owned(), self.password.to_owned())
            .max_reconnects(None)
            .connect(self.url)
            .await
            .map_err(|source| NatsConnectError {
                url: self.url.to_owned(),
                user: self.user.to_owned(),
                source,
            })
    }
}

/// The process's metric registry, served on `GET /metrics` at `addr` when
/// one is set (`NATSCHAT_METRICS_ADDR`); a busy address fails at once.
pub async fn metrics(addr: Option<SocketAddr>) -> Result<Metrics, MetricsError> {
    let metrics = Metrics::default();
    if let Some(addr) = addr {
        metrics.serve(addr).await?;
    }
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Clone)]
    struct ExampleLogin;

    impl LoginNames for ExampleLogin {
        const WHO: &'static str = "the example daemon";
        const USER_FLAG: &'static str = "example-user";
        const USER_ENV: &'static str = "NATSCHAT_EXAMPLE_USER_UNSET_IN_TESTS";
        const DEFAULT_USER: &'static str = "natschat-example";
        const PASSWORD_FLAG: &'static str = "example-password";
        const PASSWORD_ENV: &'static str = "NATSCHAT_EXAMPLE_PASSWORD_UNSET_IN_TESTS";
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        connection: ConnectionArgs<ExampleLogin>,
    }

    #[test]
    fn the_login_flags_carry_the_daemons_names_and_default_user() {
        let args = Cli::try_parse_from([
            "natschatd",
            "--nats-url",
            "nats://127.0.0.1:1",
            "--example-password",
            "secret",
            "--metrics-addr",
            "127.0.0.1:9100",
        ])
        .unwrap()
        .connection;
        let login = args.nats_login();
        assert_eq!(login.url, "nats://127.0.0.1:1");
        assert_eq!(login.user, "natschat-example");
        assert_eq!(login.password, "secret");
        assert_eq!(args.metrics_addr, Some("127.0.0.1:9100".parse().unwrap()));

        let args = Cli::try_parse_from([
            "natschatd",
            "--example-user",
            "someone",
            "--example-password",
            "secret",
        ])
        .unwrap()
        .connection;
        assert_eq!(args.user, "someone");
    }

    #[test]
    fn a_password_is_required_and_a_bad_metrics_address_refused() {
        assert!(Cli::try_parse_from(["natschatd"]).is_err());
        assert!(
            Cli::try_parse_from([
                "natschatd",
                "--example-password",
                "secret",
                "--metrics-addr",
                "not-an-address",
            ])
            .is_err()
        );
    }
}
